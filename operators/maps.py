"""``atelier.derive_maps``: PBR maps for a material the artist already has, from the picture on
its Base Color; and the maps steps ``atelier.generate_texture`` shares with it.

The classic engine runs inside Blender at once; ``marigold`` or a model folder runs as a
backend ``maps`` job (asynchronous in the UI, blocking in ``blender -b``).
"""

from __future__ import annotations

from pathlib import Path

import bpy

from .. import preferences
from ..apply import material_maps
from ..apply.map_images import check_picture
from ..client import session
from ..client.session import ApplyError, JobRefused
from ..core import maps_models, protocol
from ..core.pbr import MapError
from ..core.results import MapsResult
from ..properties.maps import map_roles, maps_fields
from ..properties.texture import SEAMLESS_ITEMS
from . import picture_file
from .backend_operator import BackendJobOperator

CLASSIC_ALTERNATIVE = "or use maps_model='classic' (no weights) for maps made inside Blender now"


# ---------------------------------------------------------------------- shared with generate_texture


def wanted_roles(operator: bpy.types.Operator) -> tuple[str, ...]:
    """The maps ``operator`` makes: its ``maps`` when the call names them (an empty set: none),
    else the 'Default Maps' preference."""
    if operator.properties.is_property_set("maps"):
        return map_roles(operator.maps)
    return preferences.default_maps()


def maps_model(operator: bpy.types.Operator) -> str:
    """'classic', 'marigold' or a folder: ``maps_model``, else the preference (see
    ``preferences.resolved_maps_model``)."""
    return maps_models.named(operator.maps_model) or preferences.resolved_maps_model()


def options(operator: bpy.types.Operator) -> material_maps.MapOptions:
    return material_maps.MapOptions(displacement=operator.displacement, use_ao=operator.use_ao)


def classic_maps(context: bpy.types.Context, materials, roles, seamless: str,
                 map_options: material_maps.MapOptions) -> material_maps.AppliedMaps:
    """Make ``roles`` with the classic engine from the first material's picture and put them on
    every material in ``materials``; ``ApplyError`` with nothing changed when that fails."""
    from ..apply import classic_maps as classic  # numpy filters, loaded on first use

    picture = material_maps.check_material(materials[0])
    try:
        folder = picture_file.input_folder("maps", session.new_request_id())
    except JobRefused as exc:
        raise ApplyError(str(exc)) from None
    try:
        files, record = classic.derive_files(picture, roles, seamless, folder)
        return material_maps.apply_maps(context, materials, files, record, map_options,
                                        preferences.image_storage())
    except (MapError, OSError) as exc:
        raise ApplyError(str(exc)) from None
    finally:
        picture_file.release(folder)


def maps_request(request_id: str, image_path: str, roles, seamless: str, model: str) -> protocol.MapsRequest:
    return protocol.MapsRequest(
        id=request_id, image=image_path, maps=list(roles), seamless=seamless, model=model,
        device=preferences.resolved_device(), allow_network=preferences.allow_network(),
        output_dir=preferences.user_folder("jobs"))  # the session makes the job's own folder in it


def applied_from_result(context: bpy.types.Context, materials, result: MapsResult,
                        map_options: material_maps.MapOptions) -> material_maps.AppliedMaps:
    """A backend maps result on ``materials``; its job folder goes once it is read."""
    try:
        return material_maps.apply_maps(context, materials, result.maps, result.provenance.to_dict(),
                                        map_options, preferences.image_storage())
    finally:
        session.release(result.id)


def describe(applied: material_maps.AppliedMaps) -> str:
    """'maps normal, height (classic); UV map "Atelier" on Cube'."""
    text = f"maps {', '.join(applied.images)} ({applied.provenance.get('engine', '?')})"
    if applied.unwrapped:
        text += f"; UV map \"Atelier\" on {', '.join(applied.unwrapped)}"
    return text


# ---------------------------------------------------------------------- the operator


class ATELIER_OT_derive_maps(BackendJobOperator, bpy.types.Operator):
    """Make PBR maps (normal, height, roughness, metallic, AO, albedo) from the picture on a
    material's Base Color and wire them into the material"""

    bl_idname = "atelier.derive_maps"
    bl_label = "Derive Maps"
    builtin_alternative = CLASSIC_ALTERNATIVE

    __annotations__ = {
        "material": bpy.props.StringProperty(
            name="Material", description="Material to give maps (empty = the active object's "
                                         "active material)"),
        "seamless": bpy.props.EnumProperty(
            name="Seamless", description="How the picture tiles, so the maps tile the same way "
                                         "(Auto: as Atelier recorded when it made the picture, "
                                         "else off)",
            items=[("AUTO", "Auto", "As the picture's Atelier record says; off for any other "
                                    "picture"), *SEAMLESS_ITEMS],
            default="AUTO"),
        **maps_fields(),
    }
    _input_folder: Path | None = None  # holds a copy of a packed or edited picture for the backend

    # ------------------------------------------------------------------ what to work on

    def _roles(self) -> tuple[str, ...]:
        roles = wanted_roles(self)
        if not roles:
            raise ApplyError("no maps were asked for; name at least one, e.g. maps={'NORMAL'}")
        return roles

    def _seamless(self, picture: bpy.types.Image) -> str:
        """'off', 'x', 'y' or 'xy': ``seamless``, or for 'AUTO' the picture's own record."""
        if self.seamless == "AUTO":
            return material_maps.seamless_of(picture)
        return self.seamless.lower()

    def runs_in_blender(self, context: bpy.types.Context) -> bool:
        return maps_model(self) == preferences.CLASSIC

    def run_in_blender(self, context: bpy.types.Context) -> str:
        material = material_maps.pick_material(context, self.material)
        roles = self._roles()
        picture = material_maps.check_can_take_maps(context, material, roles)
        applied = classic_maps(context, [material], roles, self._seamless(picture), options(self))
        material_maps.record_history(context.scene, material, applied)
        return f"Material {material.name!r}: {describe(applied)}"

    # ------------------------------------------------------------------ the backend job

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        try:
            material = material_maps.pick_material(context, self.material)
            roles = self._roles()
            picture = material_maps.check_can_take_maps(context, material, roles)
            check_picture(picture)
            path = self._picture_path(picture, request_id)
        except (ApplyError, MapError, OSError) as exc:
            raise JobRefused(str(exc)) from None
        self._material_name = material.name
        return maps_request(request_id, str(path), roles, self._seamless(picture), maps_model(self))

    def _picture_path(self, picture: bpy.types.Image, request_id: str) -> Path:
        """The picture as a file the backend can read (``picture_file.picture_path``)."""
        def folder() -> Path:
            self._input_folder = picture_file.input_folder("maps-input", request_id)
            return self._input_folder

        return picture_file.picture_path(picture, folder)

    def release_request(self, context: bpy.types.Context) -> None:
        picture_file.release(self._input_folder)
        self._input_folder = None

    def apply_result(self, context: bpy.types.Context, result: MapsResult) -> str:
        material = bpy.data.materials.get(self._material_name)
        if material is None:
            session.release(result.id)
            raise ApplyError(f"material {self._material_name!r} no longer exists; nothing was changed")
        applied = applied_from_result(context, [material], result, options(self))
        material_maps.record_history(context.scene, material, applied)
        return f"Material {material.name!r}: {describe(applied)}"

    def job_label(self) -> str:
        return f"maps of '{getattr(self, '_material_name', '') or self.material}'"


classes = (ATELIER_OT_derive_maps,)
register, unregister = bpy.utils.register_classes_factory(classes)
