"""What a failed operation must leave as it was, as one comparable value."""


def scene_state(bpy) -> dict:
    """Names of the datablocks an Atelier operator may add, the scene's world and camera, and
    the stored scene ideas."""
    scene = bpy.context.scene
    return {
        "objects": sorted(o.name for o in bpy.data.objects),
        "collections": sorted(c.name for c in bpy.data.collections),
        "materials": sorted(m.name for m in bpy.data.materials),
        "worlds": sorted(w.name for w in bpy.data.worlds),
        "texts": sorted(t.name for t in bpy.data.texts),
        "world": scene.world.name if scene.world else None,
        "camera": scene.camera.name if scene.camera else None,
        "ideas": [(i.title, i.document) for i in scene.atelier.ideas],
    }


def datablock_state(bpy) -> dict:
    """Names of the datablocks a texture or projection job may add (objects, collections,
    cameras, materials, images) and each object's material slots, as one comparable value."""
    return {
        "objects": sorted(o.name for o in bpy.data.objects),
        "collections": sorted(c.name for c in bpy.data.collections),
        "cameras": sorted(c.name for c in bpy.data.cameras),
        "materials": sorted(m.name for m in bpy.data.materials),
        "images": sorted(i.name for i in bpy.data.images if i.name != "Render Result"),
        "slots": {o.name: [s.material.name if s.material else None for s in o.material_slots]
                  for o in bpy.data.objects},
    }
