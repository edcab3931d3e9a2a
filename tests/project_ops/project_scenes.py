"""Scenes and checks the projection and restyle tests share."""

from __future__ import annotations

from scene_state import datablock_state


def project_state(bpy) -> dict:
    """Everything a projection may add or change, as one comparable value: datablock names
    (objects, collections, cameras, materials, images, meshes), each mesh's UV maps and active
    one, each object's material slots, the scene camera, the selection and the history."""
    scene = bpy.context.scene
    active = bpy.context.view_layer.objects.active
    return {
        **datablock_state(bpy),
        "meshes": sorted(m.name for m in bpy.data.meshes),
        "uv_maps": {m.name: ([layer.name for layer in m.uv_layers],
                             m.uv_layers.active.name if m.uv_layers.active else None)
                    for m in bpy.data.meshes},
        "camera": scene.camera.name if scene.camera else None,
        "selected": sorted(o.name for o in bpy.context.selected_objects),
        "active": active.name if active else None,
        "history": len(scene.atelier.history),
    }


def cube(bpy, name="Cube", location=(0.0, 0.0, 0.0), uvs=True, size=2.0):
    """A cube mesh object, selected and active (with the primitive's UV map or none)."""
    bpy.ops.mesh.primitive_cube_add(size=size, location=location, calc_uvs=uvs)
    obj = bpy.context.active_object
    obj.name = obj.data.name = name
    return obj


def scene_camera(bpy, location=(0.0, -6.0, 0.0), rotation=(1.5708, 0.0, 0.0), size=64):
    """A camera looking at the origin from -Y, made the scene camera; the output ``size`` square."""
    data = bpy.data.cameras.new("Camera")
    camera = bpy.data.objects.new("Camera", data)
    bpy.context.scene.collection.objects.link(camera)
    camera.location, camera.rotation_euler = location, rotation
    scene = bpy.context.scene
    scene.camera = camera
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    return camera
