"""What a built idea's camera sees, by Blender's own projection (``world_to_camera_view``)."""


def unframed(bpy, scene, camera, objects) -> list[str]:
    """Those of ``objects`` whose bounding-box centre is outside the frame of ``camera`` (an
    object) in ``scene``, behind it or past its clip end."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    bpy.context.view_layer.update()
    lens = camera.data
    missed = []
    for obj in objects:
        centre = obj.matrix_world @ (sum((Vector(corner) for corner in obj.bound_box), Vector()) / 8)
        x, y, depth = world_to_camera_view(scene, camera, centre)
        if not (0 <= x <= 1 and 0 <= y <= 1 and lens.clip_start <= depth <= lens.clip_end):
            missed.append(f"{obj.name} at ({x:.2f}, {y:.2f}, {depth:.1f})")
    return missed
