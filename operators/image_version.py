"""What ``refine_texture``, ``inpaint_texture`` and ``upscale_texture`` share: the picture to
work on, sending it as a file, the request fields every image edit has, and putting the result
on the materials as a new version of the picture (``apply/image_version``).

Each operator mixes ``ImageVersionOperator`` in and writes ``target`` (the picture and the
materials that get the new version) and ``edit_request`` (its own request and checks).
"""

from __future__ import annotations

from pathlib import Path

import bpy

from .. import preferences
from ..apply import image_version, material_maps, pbr_material
from ..apply.texture import TextureParameters, check_editable
from ..client import session
from ..client.session import ApplyError, JobRefused
from ..core import limits, protocol
from ..core.image_edit import ImageEditError, steps_for_strength
from ..core.results import TextureResult
from ..properties.fields import model_field, seed_field
from ..properties.style import style_field
from . import picture_file
from .backend_operator import BackendJobOperator
from .style_args import StyledArgs, styled_args


def material_picture(context: bpy.types.Context, name: str) -> tuple[bpy.types.Image, list]:
    """The picture on the Base Color of material ``name`` (empty: the active object's active
    material), and that material; ``ApplyError`` saying what to select or connect."""
    material = material_maps.pick_material(context, name)
    return pbr_material.base_texture(material).image, [material]


def named_picture(context: bpy.types.Context, name: str) -> tuple[bpy.types.Image, list]:
    """The image ``name`` and every material showing it; empty ``name``: the active material's
    picture (``material_picture``) and that material."""
    name = name.strip()
    if not name:
        obj = context.active_object
        if obj is None or obj.active_material is None:
            raise ApplyError("select an object whose material shows a picture, or name an image in image")
        return material_picture(context, "")
    image = bpy.data.images.get(name)
    if image is None:
        raise ApplyError(f"there is no image named {name!r}; check the name")
    return image, [m for m in bpy.data.materials if image_version.showing(m, image)]


def check_readable(image: bpy.types.Image, what: str = "image") -> None:
    """Refuse an image Blender holds no pixels of (a missing or broken file)."""
    if image.size[0] == 0 or image.size[1] == 0:
        raise ApplyError(f"Blender cannot read the {what} {image.name!r} (no pixels); check its file")


def check_big_enough(picture: bpy.types.Image) -> None:
    """Refuse a picture smaller a side than the backend edits, naming the image (the backend
    would name only the file it is sent as)."""
    width, height = picture.size
    if min(width, height) < limits.MIN_SIZE:
        raise ApplyError(f"the image {picture.name!r} is {width}x{height} pixels; it must be at least "
                         f"{limits.MIN_SIZE}x{limits.MIN_SIZE}: scale it up (Image > Resize) or use a "
                         "larger one")


def edit_fields() -> dict:
    """The fields every image edit ends with: seed, style and model."""
    return {"seed": seed_field(hard=False), "style": style_field(), "model": model_field()}


def strength_field(default: float, description: str):
    """An edit's strength; soft limits only, so a script's 0 or 1.5 is refused, not clamped."""
    return bpy.props.FloatProperty(name="Strength", description=description, default=default,
                                   soft_min=0.01, soft_max=1.0, subtype="FACTOR")


def refused(exc: Exception) -> JobRefused:
    """A check's exception as the refusal the operator reports."""
    if isinstance(exc, ImageEditError):
        return JobRefused(session.format_error(exc.message, exc.hint))
    return JobRefused(str(exc))


def request_fields(operator: bpy.types.Operator, request_id: str, args: StyledArgs, task: str) -> dict:
    """The fields every request of a diffusion texture model has, from the operator's ``seed``
    and ``model`` (else the preference) and the styled ``args``; ``ApplyError`` saying what to
    change for a seed out of range, no model, or the built-in engine (which cannot ``task``)."""
    seed = operator.seed
    if not -1 <= seed <= protocol.SEED_MAX:
        raise ApplyError(f"seed {seed} is out of range; use -1 for a random seed "
                         f"or 0..{protocol.SEED_MAX}")
    model = getattr(operator, "model", "").strip() or preferences.resolved_model("texture")
    if not model:
        raise ApplyError("no texture model is set; set one in Atelier's preferences or "
                         "ATELIER_TEXTURE_MODEL")
    if model == preferences.BUILTIN:
        raise ApplyError(f"the built-in engine cannot {task}; set a diffusion texture model in "
                         "Atelier's preferences, or name one in model")
    # -1 becomes a concrete seed here, so the history can make it again.
    return dict(id=request_id, prompt=args.prompt, negative_prompt=args.negative_prompt,
                seed=seed if seed >= 0 else protocol.random_seed(), style=args.style, model=model,
                steps=args.defaults.get("steps"), guidance=args.defaults.get("guidance"),
                device=preferences.resolved_device(), allow_network=preferences.allow_network(),
                output_dir=preferences.user_folder("jobs"))  # the session makes the job's folder


class ImageVersionOperator(BackendJobOperator):
    """Mixin (before ``bpy.types.Operator``): a backend job that makes a new version of a picture."""

    kind = ""  # the history entry's kind: 'REFINE', 'INPAINT' or 'UPSCALE'
    _input_folder: Path | None = None  # holds the files written for the backend
    _request_id = ""
    _picture_name = ""
    _material_names: tuple[str, ...] = ()
    _style = ""
    _strength = 0.0
    _prompts = ("", "")  # the artist's own prompt and negative prompt, as typed

    # ------------------------------------------------------------------ what subclasses write

    def target(self, context: bpy.types.Context) -> tuple[bpy.types.Image, list]:
        """(the picture, the materials that get its new version): by default the image named in
        the operator's ``image`` (``named_picture``)."""
        return named_picture(context, self.image)

    def edit_request(self, context: bpy.types.Context, request_id: str, picture: bpy.types.Image,
                     args: StyledArgs, fields: dict) -> protocol.Request:
        """The request, built from ``fields`` (``common_fields``) and the operator's own
        settings; raises ``ApplyError``, ``ImageEditError`` or ``OSError`` to refuse."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the backend job

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        self._request_id = request_id
        args = styled_args(self)
        try:
            picture, materials = self.target(context)
            check_readable(picture)
            check_big_enough(picture)
            check_editable(materials)  # the new version goes into them
            fields = self.common_fields(request_id, args)
            request = self.edit_request(context, request_id, picture, args, fields)
        except (ApplyError, ImageEditError, OSError) as exc:
            raise refused(exc) from None
        self._picture_name = picture.name
        self._material_names = tuple(m.name for m in materials)
        self._style = args.style
        # The history keeps the artist's words and the style's name, so making it again expands once.
        self._prompts = (getattr(self, "prompt", "").strip(), getattr(self, "negative_prompt", "").strip())
        return request

    def checked_strength(self, args: StyledArgs, steps: int | None) -> float:
        """The strength to send (the caller's, else the style's default), kept for the history;
        ``ImageEditError`` when it is out of range or so small that one denoising step would take
        more than the step limit (``core.image_edit.steps_for_strength``)."""
        strength = args.value("strength")
        steps_for_strength(steps or 1, strength)
        self._strength = strength
        return strength

    def common_fields(self, request_id: str, args: StyledArgs) -> dict:
        """The request fields every image edit has (the image is added by ``send_picture``)."""
        return request_fields(self, request_id, args, "make new versions of pictures")

    def input_folder(self) -> Path:
        """This job's folder for the files it sends (made on first use)."""
        if self._input_folder is None:
            self._input_folder = picture_file.input_folder("edit-input", self._request_id)
        return self._input_folder

    def send_picture(self, picture: bpy.types.Image, *, alpha: bool = False) -> str:
        """The picture as a file the backend reads (``picture_file.picture_path``)."""
        return str(picture_file.picture_path(picture, self.input_folder, alpha=alpha))

    def release_request(self, context: bpy.types.Context) -> None:
        picture_file.release(self._input_folder)
        self._input_folder = None

    # ------------------------------------------------------------------ the result

    def apply_result(self, context: bpy.types.Context, result: TextureResult) -> str:
        try:
            picture = bpy.data.images.get(self._picture_name)
            if picture is None:
                raise ApplyError(f"the image {self._picture_name!r} no longer exists; nothing was changed")
            materials = [bpy.data.materials.get(name) for name in self._material_names]
            gone = [name for name, m in zip(self._material_names, materials, strict=True) if m is None]
            if gone:
                raise ApplyError(f"material {gone[0]!r} no longer exists; nothing was changed")
            made = image_version.put_new_version(
                context.scene, materials, picture, result.base_color, result.provenance.to_dict(),
                self._version(result), preferences.image_storage())
        finally:
            session.release(result.id)  # packed or copied by now, or failed: the job folder goes
        return self.describe(made, result)

    def _version(self, result: TextureResult) -> image_version.Version:
        s = result.settings
        prompt, negative_prompt = self._prompts
        parameters = TextureParameters(
            prompt=prompt, negative_prompt=negative_prompt, width=s.width, height=s.height,
            steps=s.steps, guidance=s.guidance, seed=s.seed,
            seamless=s.seamless.upper() if s.seamless in protocol.SEAMLESS_MODES else "OFF",
            style=self._style, model=result.provenance.model or "")
        return image_version.Version(kind=self.kind, parameters=parameters, strength=self._strength)

    @staticmethod
    def describe(made: image_version.NewVersion, result: TextureResult) -> str:
        """"Material 'Brick': new image 'Brick v2' (seed 7)" and the backend's notes."""
        names = ", ".join(repr(m.name) for m in made.materials)
        where = f"Material {names}: new image" if made.materials else "New image"
        text = f"{where} {made.image.name!r} (seed {result.settings.seed})"
        if not made.materials:
            text += f"; no material shows {made.previous.name!r}"
        return "; ".join([text, *result.notes])

    def job_label(self) -> str:
        return f"{self.bl_label.lower()} of '{self._picture_name}'"
