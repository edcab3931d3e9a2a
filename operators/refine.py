"""``atelier.refine_texture``: a new version of the picture on a material's Base Color by
image-to-image (a backend ``refine`` job); the material shows the new version, the history
keeps the old one, and one Ctrl+Z goes back."""

from __future__ import annotations

import bpy

from ..client.session import ApplyError
from ..core import protocol
from ..properties.texture import SEAMLESS_ITEMS
from .image_version import ImageVersionOperator, edit_fields, material_picture, strength_field


class ATELIER_OT_refine_texture(ImageVersionOperator, bpy.types.Operator):
    """Make a new version of the picture on a material's Base Color from the prompt, keeping
    its layout (image-to-image); the old picture stays in the history"""

    bl_idname = "atelier.refine_texture"
    bl_label = "Refine"
    kind = "REFINE"

    __annotations__ = {
        "material": bpy.props.StringProperty(
            name="Material", description="Material whose Base Color picture to refine (empty = the "
                                         "active object's active material)"),
        "prompt": bpy.props.StringProperty(name="Prompt", description="What the new version shows"),
        "negative_prompt": bpy.props.StringProperty(
            name="Negative Prompt", description="What the new version should not show"),
        "strength": strength_field(0.5, "How much to change: above 0 (barely) up to 1 (repaint fully)"),
        "steps": bpy.props.IntProperty(name="Steps", description="Denoising steps before strength "
                                       "(0 = the model's recommended value)", default=0, soft_min=0),
        "seamless": bpy.props.EnumProperty(name="Seamless", description="Make the new version tile",
                                           items=SEAMLESS_ITEMS, default="XY"),
        **edit_fields(),
    }

    def target(self, context: bpy.types.Context):
        return material_picture(context, self.material)

    def edit_request(self, context, request_id, picture, args, fields) -> protocol.Request:
        steps = args.value("steps")
        if steps < 0:
            raise ApplyError("steps cannot be negative; use 0 for the model's recommended value")
        strength = self.checked_strength(args, steps)
        fields["steps"] = steps or None  # the operator's own steps (a style's when not passed)
        return protocol.RefineRequest(**fields, image=self.send_picture(picture), strength=strength,
                                      seamless=args.value("seamless").lower())


classes = (ATELIER_OT_refine_texture,)
register, unregister = bpy.utils.register_classes_factory(classes)
