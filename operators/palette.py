"""Colour-scheme operators: ``atelier.generate_palette``, ``atelier.apply_palette``,
``atelier.export_palette``.

``generate_palette`` runs as a backend job (asynchronous in the UI, blocking in
``blender -b``) for every source; with the text model ``builtin`` the PROMPT and HARMONY
sources run inside Blender at once instead (the built-in engine, and the same harmony rules).
"""

import dataclasses
import json
import os

import bpy
from bpy_extras.io_utils import ExportHelper

from .. import preferences
from ..apply import palette as apply_palette
from ..apply import palette_export
from ..client.session import ApplyError, JobRefused, format_error
from ..core import limits, protocol  # one prompt cap for every text model
from ..core.colors import MAX_COLORS, MIN_COLORS
from ..core.results import PaletteResult, PaletteScheme
from ..properties import palette as settings
from ..properties.fields import model_field, seed_field
from . import batch_run, picture_file
from .backend_operator import BackendJobOperator
from .style_args import styled_args


class ATELIER_OT_generate_palette(BackendJobOperator, bpy.types.Operator):
    """Make a colour scheme from a prompt, an image or a base colour, as a new palette"""

    bl_idname = "atelier.generate_palette"
    bl_label = "Generate Palette"
    builtin_alternative = "or use model='builtin' (the built-in engine) with source 'PROMPT' or 'HARMONY'"

    # The panel's fields with soft limits: a script's out-of-range count is refused, not clamped.
    __annotations__ = {
        **settings.generation_fields(hard=False),
        "seed": seed_field(hard=True),
        "model": model_field("the preference for the source's model"),
    }

    # ------------------------------------------------------------------ engine choice

    def _model(self) -> str:
        """The model this source uses; IMAGE and HARMONY use none but follow the text model's
        choice of engine (``builtin`` keeps HARMONY inside Blender)."""
        kind = "texture" if self.source == "PROMPT_IMAGE" else "text"
        return self.model.strip() or preferences.resolved_model(kind)

    def runs_in_blender(self, context) -> bool:
        return self.source in settings.BUILTIN_SOURCES and self._model() == preferences.BUILTIN

    def uses_text_server(self, context) -> bool:
        return self.source == "PROMPT"


    def run_in_blender(self, context) -> str:
        """Built-in engine (PROMPT) or harmony rules (HARMONY) inside Blender: no backend."""
        self._check_inputs()
        if self.source == "PROMPT":
            from ..builtin import palette as builtin_palette

            data, record = builtin_palette.make_palette(self.prompt.strip(), self.count, self._seed())
        else:
            data, record = self._harmony_here()
        try:
            scheme = apply_palette.check_scheme(data)
        except apply_palette.PaletteError as exc:
            raise ValueError(str(exc)) from None
        palette = apply_palette.create_palette(context.scene, scheme, source=self.source,
                                               provenance=json.dumps(record))
        self._show(context, palette)
        return "Built-in engine: " + _describe(palette, scheme)

    def _harmony_here(self):
        from ..builtin import provenance
        from ..core import colors
        from ..core.errors import TaskError

        try:
            data = colors.harmony_scheme(self._base_hex(), self.harmony.lower(), self.count)
        except TaskError as exc:
            raise ValueError(format_error(exc.message, exc.hint)) from None
        record = provenance.record("palette", parameters={
            "source": "harmony", "harmony": self.harmony.lower(), "base_color": self._base_hex(),
            "count": self.count})
        return data, record

    # ------------------------------------------------------------------ the backend job

    def make_request(self, context, request_id: str) -> protocol.Request:
        self._check_inputs()
        model = "" if self.source in ("IMAGE", "HARMONY") else self._model()
        if self.source == "PROMPT_IMAGE" and model == preferences.BUILTIN:
            raise JobRefused("PROMPT_IMAGE needs a texture model that paints images, and the "
                             "texture model is 'builtin'; set one, or use source 'PROMPT'")
        output_dir = preferences.user_folder("jobs")
        self._image_title = ""
        image = self._image_file(request_id) if self.source == "IMAGE" else ""
        self._seed_sent = self._seed()
        # A style words the picture PROMPT_IMAGE paints (``_check_inputs`` refuses it elsewhere).
        styled = styled_args(self)
        return protocol.PaletteRequest(
            id=request_id, source=self.source.lower(), prompt=styled.prompt,
            negative_prompt=styled.negative_prompt, style=styled.style, image=image,
            count=self.count, harmony=self.harmony.lower(), base_color=self._base_hex(), model=model,
            device=preferences.resolved_device(), output_dir=output_dir,
            allow_network=preferences.allow_network(), seed=self._seed_sent,
        )

    def apply_result(self, context, result: PaletteResult) -> str:
        # The backend titles a scheme after its file; a datablock's copy has a temporary name.
        scheme = result.scheme
        if self._image_title:
            scheme = dataclasses.replace(scheme, title=self._image_title)
        try:
            palette = apply_palette.create_palette(context.scene, scheme, source=self.source,
                                                   provenance=json.dumps(result.provenance.to_dict()))
        except apply_palette.PaletteError as exc:
            raise ApplyError(f"the backend's scheme cannot be used: {exc}") from None
        self._show(context, palette)
        seeded = self.source in ("PROMPT", "PROMPT_IMAGE")
        message = _describe(palette, scheme) + (f" (seed {self._seed_sent})" if seeded else "")
        return message + result.completion_note()

    def job_label(self) -> str:
        what = {"PROMPT": self.prompt.strip()[:40], "PROMPT_IMAGE": self.prompt.strip()[:40],
                "IMAGE": os.path.basename(self.image), "HARMONY": self.harmony.lower()}[self.source]
        return f"palette '{what}'"

    # ------------------------------------------------------------------ checks

    def _check_inputs(self) -> None:
        if not MIN_COLORS <= self.count <= MAX_COLORS:
            raise JobRefused(f"count {self.count} is out of range; "
                             f"ask for {MIN_COLORS} to {MAX_COLORS} colours")
        if self.source in ("PROMPT", "PROMPT_IMAGE"):
            prompt = self.prompt.strip()
            if not prompt:
                raise JobRefused("the prompt is empty; describe a mood or subject, e.g. 'rainy neon alley'")
            if limits.prompt_length_problem(prompt):  # the backend reads no more: refuse before sending
                raise JobRefused(limits.prompt_length_problem(prompt))
        if self.style.strip() and self.source != "PROMPT_IMAGE":
            raise JobRefused(f"style applies to the painted picture of source PROMPT_IMAGE, not to "
                             f"{self.source}; clear style or use source PROMPT_IMAGE")
        if self.source == "IMAGE" and not self.image.strip():
            raise JobRefused("no image given; name an Image datablock or an image file path")
        problem = apply_palette.colour_problem(self.base_color, "base_color")  # every request sends it
        if problem:
            raise JobRefused(f"{problem}; pick a colour with red, green and blue from 0 to 1")

    def _seed(self) -> int:
        return self.seed if self.seed >= 0 else protocol.random_seed()

    def _base_hex(self) -> str:
        return apply_palette.to_hex(self.base_color)

    def _image_file(self, request_id: str) -> str:
        """A file the backend can read: the datablock's own file, else a temporary copy in a
        folder of its own (``picture_file.input_folder``)."""
        image = bpy.data.images.get(self.image)
        if image is None:
            path = bpy.path.abspath(self.image)
            if not os.path.isfile(path):
                raise JobRefused(f"image {self.image!r} is neither an Image datablock nor an existing "
                                 "file; give a datablock name or the path of an image file")
            return path
        self._image_title = image.name
        path = bpy.path.abspath(image.filepath, library=image.library) if image.filepath else ""
        on_disk = image.source == "FILE" and image.packed_file is None and not image.is_dirty
        if on_disk and os.path.isfile(path):
            return path
        if tuple(image.size) == (0, 0):
            raise JobRefused(f"image {image.name!r} has no pixels (its file may be missing); "
                             "reload it or pick another image")
        self._input_folder = picture_file.input_folder("palette-input", request_id)
        return _save_copy(image, str(self._input_folder / "picture.png"))

    def release_request(self, context) -> None:
        """Delete the temporary copy of an Image datablock: it was only for the backend to read."""
        picture_file.release(getattr(self, "_input_folder", None))
        self._input_folder = None

    def _show(self, context, palette) -> None:
        context.scene.atelier.palette.palette = palette


def _save_copy(image, path: str) -> str:
    """Write ``image``'s pixels (generated, packed or edited) to ``path`` without touching it."""
    import numpy as np

    width, height = image.size
    pixels = np.empty(width * height * 4, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    copy = bpy.data.images.new("Atelier palette input", width, height, alpha=True,
                               float_buffer=image.is_float)
    try:
        copy.colorspace_settings.name = image.colorspace_settings.name
        copy.pixels.foreach_set(pixels)
        copy.save(filepath=path)
    finally:
        bpy.data.images.remove(copy)
    return path


def _describe(palette, scheme: PaletteScheme) -> str:
    colors = ", ".join(f"{c.hex} {c.role}".strip() for c in scheme.colors)
    return f"Palette {palette.name!r}: {colors}"


def _find_palette(context, name: str):
    if name:
        palette = bpy.data.palettes.get(name)
        if palette is None:
            raise apply_palette.PaletteError(f"there is no palette named {name!r}")
        return palette
    palette = context.scene.atelier.palette.palette
    if palette is None:
        raise apply_palette.PaletteError("no palette chosen; generate one or name it in 'palette'")
    return palette


class ATELIER_OT_apply_palette(bpy.types.Operator):
    """Recolour materials with a palette in one undo step. The material covering the largest surface
    gets the primary colour, the next ones secondary, accent, background, highlight, shadow (a palette
    without roles: its order). Texture-driven colours stay; shared materials are copied or skipped.
    World: the background colour; lights: the highlight"""

    bl_idname = "atelier.apply_palette"
    bl_label = "Apply Palette"
    bl_options = {"REGISTER", "UNDO"}

    __annotations__ = {
        "palette": bpy.props.StringProperty(name="Palette",
                                            description="Palette name (empty = the panel's palette)"),
        **settings.application_fields(),
    }

    def execute(self, context):
        try:
            palette = _find_palette(context, self.palette.strip())
            report = apply_palette.apply_palette(
                context, palette, scope=self.scope, include_world=self.include_world,
                include_lights=self.include_lights, shared=self.shared)
        except apply_palette.PaletteError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Palette {palette.name!r}: {report.summary()}")
        return {"FINISHED"}


class ATELIER_OT_export_palette(bpy.types.Operator, ExportHelper):
    """Save a palette as a GIMP palette (.gpl) file, with colour names and roles"""

    bl_idname = "atelier.export_palette"
    bl_label = "Export Palette (.gpl)"

    filename_ext = ".gpl"
    filter_glob: bpy.props.StringProperty(default="*.gpl", options={"HIDDEN"})
    palette: bpy.props.StringProperty(name="Palette",
                                      description="Palette name (empty = the panel's palette)")

    def execute(self, context):
        try:
            palette = _find_palette(context, self.palette.strip())
            path = _palette_file(self.filepath)
            _write_palette_file(path, palette_export.gpl_text(context.scene, palette))
        except (apply_palette.PaletteError, JobRefused) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved {palette.name!r} to {path}")
        return {"FINISHED"}


def _palette_file(filepath: str) -> str:
    """The absolute path of the .gpl file a script or the file browser named; ``JobRefused``
    for none, or for a '//' path while the .blend has no folder yet."""
    if not filepath.strip():
        raise JobRefused("no file given; set filepath to the .gpl file to write (an absolute path, "
                         "or '//colours.gpl' beside a saved .blend)")
    return batch_run.absolute_path(filepath, "palette file")


def _write_palette_file(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (a file there is replaced); ``JobRefused`` saying what to change
    when the path is a folder, its folder is missing or it cannot be written."""
    try:
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except IsADirectoryError:
        raise JobRefused(f"{path} is a folder; name a file in it, e.g. "
                         f"{os.path.join(path, 'colours.gpl')}") from None
    except FileNotFoundError as exc:
        raise JobRefused(f"cannot write {path}: {exc.strerror}; create the folder "
                         f"{os.path.dirname(path)} or choose another one") from None
    except OSError as exc:
        raise JobRefused(f"cannot write {path}: {exc.strerror or exc}; choose a folder you can "
                         "write to") from None


classes = (ATELIER_OT_generate_palette, ATELIER_OT_apply_palette, ATELIER_OT_export_palette)
register, unregister = bpy.utils.register_classes_factory(classes)
