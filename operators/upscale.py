"""``atelier.upscale_texture``: a picture made 2 or 4 times larger with added detail (a backend
``upscale`` job: tiled image-to-image with the texture model, wrapping around the edges of a
seamless picture so it still tiles). The materials show the new version; the history keeps the
old one; one Ctrl+Z goes back."""

from __future__ import annotations

import bpy

from ..apply.material_maps import seamless_of
from ..client.session import ApplyError
from ..core import limits, protocol
from ..core.image_edit import UPSCALE_FACTORS, UPSCALE_STRENGTH
from .image_version import ImageVersionOperator, edit_fields

FACTOR_WORDS = " or ".join(str(f) for f in UPSCALE_FACTORS)


class ATELIER_OT_upscale_texture(ImageVersionOperator, bpy.types.Operator):
    """Make a picture 2 or 4 times larger with added detail from the texture model; a seamless
    picture stays seamless"""

    bl_idname = "atelier.upscale_texture"
    bl_label = "Upscale"
    kind = "UPSCALE"

    __annotations__ = {
        "image": bpy.props.StringProperty(
            name="Image", description="Image to upscale (empty = the picture on the active object's "
                                      "active material)"),
        "factor": bpy.props.IntProperty(name="Factor", description=f"How many times larger: {FACTOR_WORDS}",
                                        default=2, soft_min=2, soft_max=4),
        "prompt": bpy.props.StringProperty(name="Prompt", description="What the picture shows (guides "
                                           "the added detail)"),
        **edit_fields(),
    }

    def edit_request(self, context, request_id, picture, args, fields) -> protocol.Request:
        if self.factor not in UPSCALE_FACTORS:
            raise ApplyError(f"factor {self.factor} is not supported; use {FACTOR_WORDS}")
        width, height = picture.size
        most = limits.max_upscale_size()
        if max(width, height) * self.factor > most:
            raise ApplyError(f"{picture.name!r} upscaled {self.factor}x would be {width * self.factor}x"
                             f"{height * self.factor} pixels; the most is {most} per side "
                             "(ATELIER_MAX_UPSCALE_SIZE); use a smaller factor or a smaller picture")
        self._strength = UPSCALE_STRENGTH
        return protocol.UpscaleRequest(**fields, image=self.send_picture(picture), factor=self.factor,
                                       seamless=seamless_of(picture))


classes = (ATELIER_OT_upscale_texture,)
register, unregister = bpy.utils.register_classes_factory(classes)
