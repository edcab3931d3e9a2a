"""The Refine panel's settings (``Scene.atelier.refine``): what its Refine, Inpaint and Upscale
buttons send besides the Texture panel's prompt and style."""

import bpy

from ..core.image_edit import UPSCALE_FACTORS


class RefineSettings(bpy.types.PropertyGroup):
    """Settings of the Refine panel, saved with the .blend."""

    __annotations__ = {
        "strength": bpy.props.FloatProperty(
            name="Strength", description="Refine: how much to change, from barely (near 0) to "
                                         "repainting fully (1)", default=0.5, min=0.01, max=1.0,
            subtype="FACTOR"),
        "inpaint_strength": bpy.props.FloatProperty(
            name="Inpaint Strength", description="Inpaint: how much to change inside the mask (1 = "
                                                 "paint anew)", default=1.0, min=0.01, max=1.0,
            subtype="FACTOR"),
        "mask": bpy.props.StringProperty(
            name="Mask", description="Image painted white where to repaint (empty = the picture's "
                                     "transparent part)"),
        "seam_fix": bpy.props.BoolProperty(
            name="Fix Seams", description="Inpaint also repaints where the edges meet, so the picture tiles"),
        "factor": bpy.props.EnumProperty(
            name="Factor", description="Upscale: how many times larger",
            items=[(str(f), f"{f}x", f"{f} times wider and taller") for f in UPSCALE_FACTORS]),
    }


classes = (RefineSettings,)
register, unregister = bpy.utils.register_classes_factory(classes)
