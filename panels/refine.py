"""Refine section under the Texture panel: new versions of the active material's picture
(Refine, Inpaint with a painted mask or the picture's transparency, Upscale), made with the
Texture panel's prompt, negative prompt, style, seed and seamless setting."""

import bpy

from ..apply import pbr_material
from ..client.session import ApplyError
from .sidebar import SidebarPanel, draw_job_button, draw_wrapped


def active_picture(context: bpy.types.Context):
    """(the active object's active material, the picture on its Base Color), or None."""
    obj = context.active_object
    material = obj.active_material if obj is not None else None
    if material is None:
        return None
    try:
        return material, pbr_material.base_texture(material).image
    except ApplyError:
        return None


class ATELIER_PT_refine(SidebarPanel, bpy.types.Panel):
    """Make a new version of the active material's picture: refine, inpaint or upscale it"""

    bl_idname = "ATELIER_PT_refine"
    bl_label = "Refine"
    bl_parent_id = "ATELIER_PT_texture"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        found = active_picture(context)
        if found is None:
            draw_wrapped(layout, "Select an object whose material shows a picture on its Base Color")
            return
        material, picture = found
        settings = context.scene.atelier.refine
        texture = context.scene.atelier.texture
        layout.label(text=f"{material.name}: {picture.name} ({picture.size[0]}x{picture.size[1]})",
                     icon="IMAGE_DATA")
        shared = {"prompt": texture.prompt, "negative_prompt": texture.negative_prompt,
                  "style": texture.style, "seed": texture.seed}

        layout.prop(settings, "strength")
        _fill(draw_job_button(layout, context, "atelier.refine_texture", "Refine", "SHADERFX",
                              builtin=False, model_kind=None),
              shared, material=material.name, **_changed(settings, strength="strength"),
              **_changed(texture, seamless="seamless"))

        box = layout.box()
        box.prop_search(settings, "mask", bpy.data, "images", icon="MOD_MASK")
        row = box.row(align=True)
        row.prop(settings, "inpaint_strength", text="Strength")
        row.prop(settings, "seam_fix", toggle=True)
        _fill(draw_job_button(box, context, "atelier.inpaint_texture", "Inpaint", "BRUSH_DATA",
                              builtin=False, model_kind=None),
              shared, mask=settings.mask, seam_fix=settings.seam_fix,
              **_changed(settings, strength="inpaint_strength"))

        box = layout.box()
        box.row(align=True).prop(settings, "factor", expand=True)
        _fill(draw_job_button(box, context, "atelier.upscale_texture", "Upscale", "FULLSCREEN_ENTER",
                              builtin=False, model_kind=None),
              {"prompt": texture.prompt, "style": texture.style, "seed": texture.seed},
              factor=int(settings.factor))


def _changed(settings, **fields: str) -> dict:
    """{operator property: the panel's value} for the settings the artist has changed; an untouched
    one stays unpassed, so a style's default applies (``fields``: operator property -> setting)."""
    return {name: getattr(settings, setting) for name, setting in fields.items()
            if settings.is_property_set(setting)}


def _fill(op, shared: dict, **values) -> None:
    """Set a button's operator properties (nothing while its job runs and no button shows)."""
    if op is None:
        return
    for name, value in {**shared, **values}.items():
        setattr(op, name, value)


classes = (ATELIER_PT_refine,)
register, unregister = bpy.utils.register_classes_factory(classes)
