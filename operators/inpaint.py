"""``atelier.inpaint_texture``: repaint part of a picture (a backend ``inpaint`` job).

The part is white in a mask image the artist paints in Blender's Image Editor (``mask``), or
where the picture is transparent (no mask). ``seam_fix`` also repaints where the picture's edges
meet, so a texture that was not made seamless tiles. The materials show the new version; the
history keeps the old one; one Ctrl+Z goes back.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..apply.map_images import display_rgb, pixels, write_png
from ..client.session import ApplyError
from ..core import protocol
from ..core.image_edit import check_coverage, fit_mask
from .image_version import ImageVersionOperator, check_readable, edit_fields, strength_field
from .picture_file import has_alpha_channel

# Rec. 709 luma weights: how bright a painted mask colour is (white 1, black 0).
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def mask_values(mask: bpy.types.Image) -> np.ndarray:
    """A mask image's brightness (H x W, 0..1, top row first): the painted colour's luminance,
    whatever its alpha."""
    return np.clip(display_rgb(mask) @ LUMA, 0.0, 1.0)


def check_mask(mask: np.ndarray, picture: bpy.types.Image, seam_fix: bool) -> None:
    """Refuse a mask of another aspect ratio, and one that repaints everything or (without
    ``seam_fix``, which repaints the seams too) nothing."""
    width, height = picture.size
    fitted = fit_mask(mask, height, width)
    if not seam_fix or fitted.min() >= 1:
        check_coverage(fitted)


class ATELIER_OT_inpaint_texture(ImageVersionOperator, bpy.types.Operator):
    """Repaint the part of a picture that is white in a mask image (or transparent), keeping the
    rest exactly; optionally repaint its seams so it tiles"""

    bl_idname = "atelier.inpaint_texture"
    bl_label = "Inpaint"
    kind = "INPAINT"

    __annotations__ = {
        "image": bpy.props.StringProperty(
            name="Image", description="Image to repaint (empty = the picture on the active object's "
                                      "active material)"),
        "mask": bpy.props.StringProperty(
            name="Mask", description="Image painted white where to repaint and black where to keep "
                                     "(empty = the image's transparent part)"),
        "prompt": bpy.props.StringProperty(name="Prompt", description="What the repainted part shows"),
        "negative_prompt": bpy.props.StringProperty(
            name="Negative Prompt", description="What the repainted part should not show"),
        "seam_fix": bpy.props.BoolProperty(
            name="Fix Seams", description="Also repaint where the edges meet, so the picture tiles"),
        "strength": strength_field(1.0, "How much to change inside the mask: above 0 (barely) up "
                                        "to 1 (paint anew)"),
        **edit_fields(),
    }

    def edit_request(self, context, request_id, picture, args, fields) -> protocol.Request:
        strength = self.checked_strength(args, fields["steps"])
        if self.mask.strip():
            return protocol.InpaintRequest(**fields, image=self.send_picture(picture),
                                           mask=self._send_mask(picture), strength=strength,
                                           seam_fix=self.seam_fix)
        alpha = has_alpha_channel(picture)
        if alpha:
            check_mask(1.0 - pixels(picture)[..., 3], picture, self.seam_fix)
        elif not self.seam_fix:
            raise ApplyError(f"the image {picture.name!r} has no alpha channel to take the mask from; "
                             "paint a mask image (white = repaint) in the Image Editor and name it in "
                             "mask, or turn on seam_fix to repaint the seams only")
        return protocol.InpaintRequest(**fields, image=self.send_picture(picture, alpha=alpha), mask="",
                                       strength=strength, seam_fix=self.seam_fix)

    def _send_mask(self, picture: bpy.types.Image) -> str:
        """The mask image's brightness as a greyscale PNG, checked against the picture."""
        name = self.mask.strip()
        mask = bpy.data.images.get(name)
        if mask is None:
            raise ApplyError(f"there is no image named {name!r} for the mask; paint one in the Image "
                             "Editor (Image > New, black; paint white where to repaint) and name it")
        check_readable(mask, "mask")
        values = mask_values(mask)
        check_mask(values, picture, self.seam_fix)
        path = self.input_folder() / "mask.png"
        write_png(values, path, "Non-Color")
        return str(path)


classes = (ATELIER_OT_inpaint_texture,)
register, unregister = bpy.utils.register_classes_factory(classes)
