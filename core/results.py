"""What a finished job hands back, typed: one dataclass per task, parsed once on receipt.

The backend's ``result`` event carries ``files``, ``metadata`` (the provenance record) and
``data`` (the task's payload) as plain JSON. ``parse_result`` turns them into a
``TextureResult`` (``PreviewResult`` for a preview's raw pixels), ``PaletteResult``,
``IdeasResult``, ``MapsResult``, ``DoctorResult`` or a model manager result (``ModelsResult``,
``DownloadResult``, ``DeleteModelResult``) and is the only place that looks inside them:
everything downstream reads attributes. A payload of the wrong shape, a provenance record of
the wrong shape or a file outside the job's folder is a ``ResultError`` whose message says
what is wrong; the client ends the job with it (``invalid_output``) and nothing is applied.

Standard library only (plus ``core``): Blender's Python imports this as it is.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ideas as idea_rules
from . import limits, model_catalog
from .colors import ROLES
from .pbr import MAP_ROLES, MAPS_ENGINES
from .protocol import SEED_MAX
from .provenance import Provenance, ProvenanceError
from .schema import fits_double

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


class ResultError(ValueError):
    """A result that cannot be used; the message says what is wrong with it."""


# --------------------------------------------------------------------------- the results


# A result's notes reach the artist's report: a few short lines at most, whatever a backend sends.
MAX_NOTES = 8
MAX_NOTE_CHARS = 300


@dataclass(frozen=True)
class TextureSettings:
    """The settings the backend used (``data`` of a texture result): model defaults resolved."""

    prompt: str
    negative_prompt: str
    width: int
    height: int
    steps: int
    guidance: float
    seed: int
    seamless: str


@dataclass(frozen=True)
class TextureResult:
    """A texture: the base colour image (a regular file inside the job's folder)."""

    id: str
    base_color: Path
    settings: TextureSettings
    provenance: Provenance
    # What the backend changed from the request and why ("steps raised from 1 to 2 ..."), for
    # the report; image edits (refine, inpaint, upscale) write them.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreviewResult:
    """A texture preview: raw 8-bit RGBA pixels, top row first, in a file inside the job's folder
    whose size is checked to be ``width * height * 4`` bytes (previews write no PNG)."""

    id: str
    pixels: Path
    width: int
    height: int
    settings: TextureSettings
    provenance: Provenance
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SchemeColor:
    """One colour of a scheme: display hex (``#rrggbb``), a name and a role ('' = none)."""

    hex: str
    name: str = ""
    role: str = ""


@dataclass(frozen=True)
class PaletteScheme:
    """A colour scheme document: a title and at least one colour."""

    title: str
    colors: tuple[SchemeColor, ...]


@dataclass(frozen=True)
class PaletteResult:
    """A colour scheme, and for an image source how many colours the image itself gave."""

    id: str
    scheme: PaletteScheme
    provenance: Provenance
    colors_from_image: int | None = None
    colors_added: int = 0  # lighter or darker steps added to reach the count

    def completion_note(self) -> str:
        """A clause for the report saying how many colours were added to reach the count and why
        ('' when none were): an image or a text model gave fewer distinct colours."""
        if not self.colors_added:
            return ""
        given = len(self.scheme.colors) - self.colors_added
        source = "the image has" if self.colors_from_image is not None else "the text model gave"
        return (f"; {source} {given} distinct colour(s), so {self.colors_added} lighter or darker "
                f"step(s) of them complete the scheme")


@dataclass(frozen=True)
class IdeasResult:
    """Scene ideas (checked documents of ``schemas/scene_idea.json``) and what was cleaned."""

    id: str
    ideas: tuple[dict, ...]
    provenance: Provenance
    repairs: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class DoctorResult:
    """The backend's check of itself: whether everything works, and the report (no provenance:
    it makes nothing)."""

    id: str
    ok: bool
    report: str = ""


@dataclass(frozen=True)
class MapsResult:
    """PBR maps of one image: each map's PNG (a regular file inside the job's folder) by role,
    in ``core.pbr.MAP_ROLES`` order, and how they were made (``provenance.engine`` is
    ``classic`` or ``marigold``)."""

    id: str
    maps: dict[str, Path]
    provenance: Provenance

    @property
    def engine(self) -> str:
        """``classic`` (filters, no weights) or ``marigold`` (learned)."""
        return self.provenance.engine


@dataclass(frozen=True)
class CachedRevision:
    """One revision of a model in the backend's Hugging Face cache."""

    revision: str  # the 40-character commit hash
    refs: tuple[str, ...]  # branch and tag names that point at it ("main")
    size_bytes: int
    atelier: bool  # Atelier downloaded it, so Atelier may delete it


@dataclass(frozen=True)
class ModelRow:
    """One model Atelier knows (``core.model_catalog``) or downloaded (kind ``other``), with its
    cached revisions. ``download_gb`` and ``gpu_gib`` are None when unknown."""

    id: str
    kind: str
    licence: str
    commercial_use: bool
    download_gb: float | None
    gpu_gib: float | None
    source: str
    purpose: str
    revisions: tuple[CachedRevision, ...]


@dataclass(frozen=True)
class ModelsResult:
    """The models the backend knows and what its cache holds of each (no provenance)."""

    id: str
    models: tuple[ModelRow, ...]


@dataclass(frozen=True)
class DownloadResult:
    """A finished download: the model, the commit now cached, files and bytes fetched, files
    left out, its licence, and whether Atelier's record now holds it."""

    id: str
    model: str
    revision: str
    files: int
    bytes: int
    skipped: int
    licence: str
    commercial_use: bool
    atelier: bool


@dataclass(frozen=True)
class DeleteModelResult:
    """A deleted revision and the bytes it freed."""

    id: str
    model: str
    revision: str
    freed_bytes: int


# What ``parse_result`` gives.
Result = (TextureResult | PreviewResult | PaletteResult | IdeasResult | MapsResult | DoctorResult
          | ModelsResult | DownloadResult | DeleteModelResult)


# --------------------------------------------------------------------------- the parser


def parse_result(task_type: str, event: Any, job_folder: str | Path | None) -> Result:
    """The typed result of a ``task_type`` request from its ``result`` event, or ``ResultError``.

    ``job_folder`` is the folder the client made for this job (None when it made none): every
    file the result names must be a regular file inside it, else nothing is read.
    """
    parser = _PARSERS.get(task_type)
    if parser is None:
        raise ResultError(f"Atelier does not expect a result for a {task_type!r} request")
    files = _checked_files(event.files, job_folder)
    data = event.data
    if not isinstance(data, dict):
        raise ResultError(f"the result's data must be an object, got {type(data).__name__}")
    return parser(str(event.id), files, event.metadata, data)


def _texture(result_id: str, files: dict[str, Path], metadata: Any, data: dict) -> TextureResult:
    provenance = _provenance(metadata)
    if "base_color" not in files:
        raise ResultError("the texture result names no base_color image")
    return TextureResult(id=result_id, base_color=files["base_color"], settings=_texture_settings(data),
                         provenance=provenance, notes=_notes(data))


def _texture_or_preview(result_id: str, files: dict[str, Path], metadata: Any,
                        data: dict) -> TextureResult | PreviewResult:
    if "preview" not in files or "base_color" in files:
        return _texture(result_id, files, metadata, data)
    provenance = _provenance(metadata)
    settings = _texture_settings(data)
    width, height = settings.width, settings.height
    pixels = _raw_rgba(files["preview"], width, height, "preview")
    return PreviewResult(id=result_id, pixels=pixels, width=width, height=height, settings=settings,
                         provenance=provenance, notes=_notes(data))


def _raw_rgba(pixels: Path, width: Any, height: Any, what: str) -> Path:
    """``pixels`` once its size on disk is exactly ``width`` x ``height`` RGBA bytes and the size
    is within the limits; else ``ResultError`` (nothing is read)."""
    top = limits.max_size()
    if not all(isinstance(side, int) and not isinstance(side, bool) and limits.MIN_SIZE <= side <= top
               for side in (width, height)):
        raise ResultError(f"the {what}'s size {_shown(width)}x{_shown(height)} is outside "
                          f"{limits.MIN_SIZE}..{top} pixels a side; nothing was read")
    try:
        size = os.stat(pixels).st_size
    except OSError as exc:  # removed or made unreadable since the folder check
        raise ResultError(f"the {what} file {str(pixels)!r} cannot be read ({exc.strerror}); "
                          "nothing was read") from None
    if size != width * height * 4:
        raise ResultError(f"the {what} file holds {size} bytes, not the {width * height * 4} of "
                          f"{width}x{height} RGBA pixels; nothing was read")
    return pixels


@dataclass(frozen=True)
class EarlyPixels:
    """A texture's finished pixels sent ahead of its result (``early_pixels``): raw 8-bit RGBA,
    top row first, ``width * height * 4`` bytes in a file inside the job's folder. For showing
    at once only: the job's result (the PNG with provenance) may still fail."""

    id: str
    pixels: Path
    width: int
    height: int


def parse_early_pixels(event: Any, job_folder: str | Path | None) -> EarlyPixels:
    """The checked pixels of an ``image`` event, or ``ResultError``: one ``base_color`` file of
    format ``rgba8`` inside ``job_folder`` whose size matches ``width`` x ``height``."""
    files = _checked_files(event.files, job_folder)
    formats = {getattr(item, "role", None): getattr(item, "format", None) for item in event.files}
    if set(files) != {"base_color"} or formats["base_color"] != "rgba8":
        raise ResultError("an image event must name one base_color file of format 'rgba8'; "
                          "nothing was read")
    pixels = _raw_rgba(files["base_color"], event.width, event.height, "early image")
    return EarlyPixels(id=str(event.id), pixels=pixels, width=event.width, height=event.height)


def _texture_settings(data: dict) -> TextureSettings:
    return TextureSettings(
        prompt=_text(data, "prompt"), negative_prompt=_text(data, "negative_prompt", ""),
        width=_whole(data, "width"), height=_whole(data, "height"), steps=_whole(data, "steps"),
        guidance=_number(data, "guidance"), seed=_whole(data, "seed"),
        seamless=_text(data, "seamless", "off"))


def _notes(data: dict) -> tuple[str, ...]:
    """The result's notes, at most ``MAX_NOTES`` of at most ``MAX_NOTE_CHARS`` characters."""
    notes = data.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
        raise ResultError("the result's notes must be a list of text")
    return tuple(note[:MAX_NOTE_CHARS] for note in notes[:MAX_NOTES])


def _palette(result_id: str, files: dict[str, Path], metadata: Any, data: dict) -> PaletteResult:
    provenance = _provenance(metadata)
    scheme = palette_scheme(data)
    from_image = provenance.extra.get("colors_from_image")
    added = provenance.extra.get("colors_added", 0)
    for name, value in (("colors_from_image", from_image), ("colors_added", added)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ResultError(f"the palette result's {name} must be a whole number, got {value!r}")
    return PaletteResult(id=result_id, scheme=scheme, provenance=provenance,
                         colors_from_image=from_image, colors_added=added or 0)


def _ideas(result_id: str, files: dict[str, Path], metadata: Any, data: dict) -> IdeasResult:
    provenance = _provenance(metadata)
    repairs = data.get("repairs", [])
    if not isinstance(repairs, list) or not all(isinstance(r, str) for r in repairs):
        raise ResultError("the ideas result's repairs must be a list of text")
    ideas, cleaned = checked_ideas(data.get("ideas"))
    return IdeasResult(id=result_id, ideas=tuple(ideas), provenance=provenance,
                       repairs=tuple(repairs) + tuple(cleaned))


def _maps(result_id: str, files: dict[str, Path], metadata: Any, data: dict) -> MapsResult:
    provenance = _provenance(metadata)
    if provenance.engine not in MAPS_ENGINES:
        raise ResultError(f"the maps result's engine must be one of {', '.join(MAPS_ENGINES)}, "
                          f"got {_shown(provenance.engine)}")
    stray = sorted(set(files) - set(MAP_ROLES))
    if stray:
        raise ResultError(f"the maps result names files that are not maps: {', '.join(stray)}")
    listed = data.get("maps")
    if not (isinstance(listed, list) and listed and all(isinstance(role, str) for role in listed)
            and sorted(listed) == sorted(files)):
        raise ResultError(f"the maps result's files ({', '.join(files) or 'none'}) are not the maps "
                          f"it lists ({_shown(listed)})")
    return MapsResult(id=result_id, maps={role: files[role] for role in MAP_ROLES if role in files},
                      provenance=provenance)


def _doctor(result_id: str, files: dict[str, Path], metadata: Any, data: dict) -> DoctorResult:
    ok = data.get("ok")
    if not isinstance(ok, bool):
        raise ResultError(f"the doctor result's 'ok' must be true or false, got {_shown(ok)}")
    return DoctorResult(id=result_id, ok=ok, report=_text(data, "report", ""))


# Model manager results come from a backend that may be remote: every field is checked, and
# text is bounded so a hostile answer cannot flood the preferences.
MAX_MODELS = 500
MAX_REVISIONS = 50
_MODEL_KINDS = (*model_catalog.KINDS, "other")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REF = re.compile(r"^[\w.-]+(/[\w.-]+)*$")


def _models(result_id: str, files: dict[str, Path], metadata: Any, data: dict) -> ModelsResult:
    rows = data.get("models")
    if not isinstance(rows, list) or len(rows) > MAX_MODELS:
        raise ResultError(f"the models result's 'models' must be a list of at most {MAX_MODELS} rows")
    parsed = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ResultError(f"model row {number} is not an object")
        kind = _text(row, "kind")
        if kind not in _MODEL_KINDS:
            raise ResultError(f"model row {number} has an unknown kind {_shown(kind)}")
        revisions = row.get("revisions")
        if not isinstance(revisions, list) or len(revisions) > MAX_REVISIONS:
            raise ResultError(f"model row {number}'s revisions must be a list of at most {MAX_REVISIONS}")
        parsed.append(ModelRow(
            id=_model_id(row, "id"), kind=kind, licence=_bounded(row, "licence"),
            commercial_use=_flag(row, "commercial_use"), download_gb=_optional_number(row, "download_gb"),
            gpu_gib=_optional_number(row, "gpu_gib"), source=_bounded(row, "source"),
            purpose=_bounded(row, "purpose"), revisions=tuple(_cached_revision(r) for r in revisions)))
    return ModelsResult(id=result_id, models=tuple(parsed))


def _cached_revision(raw: Any) -> CachedRevision:
    if not isinstance(raw, dict):
        raise ResultError("a cached revision is not an object")
    refs = raw.get("refs")
    if not isinstance(refs, list) or len(refs) > MAX_REVISIONS or not all(
            isinstance(ref, str) and len(ref) <= 100 and _REF.match(ref) and ".." not in ref for ref in refs):
        raise ResultError(f"a cached revision's refs must be a list of branch or tag names, "
                          f"got {_shown(refs)}")
    return CachedRevision(revision=_commit(raw, "revision"), refs=tuple(refs),
                          size_bytes=_count(raw, "size_bytes"), atelier=_flag(raw, "atelier"))


def _download(result_id: str, files: dict[str, Path], metadata: Any, data: dict) -> DownloadResult:
    return DownloadResult(id=result_id, model=_model_id(data, "model"), revision=_commit(data, "revision"),
                          files=_count(data, "files"), bytes=_count(data, "bytes"),
                          skipped=_count(data, "skipped"), licence=_bounded(data, "licence"),
                          commercial_use=_flag(data, "commercial_use"), atelier=_flag(data, "atelier"))


def _delete_model(result_id: str, files: dict[str, Path], metadata: Any, data: dict) -> DeleteModelResult:
    return DeleteModelResult(id=result_id, model=_model_id(data, "model"), revision=_commit(data, "revision"),
                             freed_bytes=_count(data, "freed_bytes"))


def _model_id(data: dict, name: str) -> str:
    value = _text(data, name)
    if len(value) > 200 or not _MODEL_ID.match(value) or ".." in value:
        raise ResultError(f"the result's {name!r} is not a Hugging Face model id: {_shown(value)}")
    return value


def _commit(data: dict, name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not _COMMIT.match(value):
        raise ResultError(f"the result's {name!r} must be a 40-character commit hash, got {_shown(value)}")
    return value


def _bounded(data: dict, name: str) -> str:
    value = _text(data, name)
    if len(value) > 300:
        raise ResultError(f"the result's {name!r} is longer than 300 characters")
    return value


def _flag(data: dict, name: str) -> bool:
    value = data.get(name)
    if not isinstance(value, bool):
        raise ResultError(f"the result's {name!r} must be true or false, got {_shown(value)}")
    return value


def _count(data: dict, name: str) -> int:
    # Byte counts exceed Blender's int range, so they are checked here rather than with _whole.
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ResultError(f"the result's {name!r} must be a whole number of at least 0, got {_shown(value)}")
    return value


def _optional_number(data: dict, name: str) -> float | None:
    if data.get(name) is None:
        return None
    value = _number(data, name)
    if value < 0:
        raise ResultError(f"the result's {name!r} must not be negative")
    return value


_PARSERS = {"texture": _texture_or_preview, "refine": _texture, "inpaint": _texture, "upscale": _texture,
            "project": _texture, "restyle": _texture,
            "palette": _palette, "ideas": _ideas, "maps": _maps, "doctor": _doctor,
            "models": _models, "download": _download, "delete_model": _delete_model}


# --------------------------------------------------------------------------- documents


def palette_scheme(value: Any) -> PaletteScheme:
    """A scheme document (``{"title", "colors": [{hex, name, role}]}``) as a ``PaletteScheme``;
    one that already is passes through. ``ResultError`` says what is wrong."""
    if isinstance(value, PaletteScheme):
        return value
    if not isinstance(value, dict) or not isinstance(value.get("colors"), list) or not value["colors"]:
        raise ResultError("the scheme has no colours")
    colors = []
    for entry in value["colors"]:
        hex_value = entry.get("hex") if isinstance(entry, dict) else None
        if not isinstance(hex_value, str) or not _HEX.match(hex_value):
            raise ResultError(f"the scheme holds a colour that is not #rrggbb: {str(entry)[:60]}")
        role = entry.get("role", "")
        if role != "" and role not in ROLES:
            raise ResultError(f"the scheme holds an unknown role {str(role)[:20]!r}")
        name = entry.get("name", "")
        if not isinstance(name, str):
            raise ResultError(f"the scheme holds a colour name that is not text: {str(name)[:20]}")
        colors.append(SchemeColor(hex=hex_value.lower(), name=name, role=role))
    title = value.get("title", "")
    if not isinstance(title, str):
        raise ResultError("the scheme's title must be text")
    return PaletteScheme(title=title, colors=tuple(colors))


def checked_ideas(raw_ideas: Any) -> tuple[list[dict], list[str]]:
    """Every idea of ``raw_ideas`` sanitised and schema-valid, and the repairs made.

    ``ResultError`` names the first idea that cannot be used."""
    if not isinstance(raw_ideas, list) or not raw_ideas:
        raise ResultError("the answer holds no ideas")
    if len(raw_ideas) > idea_rules.MAX_IDEAS:
        raise ResultError(f"the answer holds {len(raw_ideas)} ideas; at most {idea_rules.MAX_IDEAS} are kept")
    ideas, repairs = [], []
    for number, raw in enumerate(raw_ideas, start=1):
        try:
            idea, fixed = idea_rules.check_idea(raw)
        except idea_rules.IdeaError as exc:
            raise ResultError(f"idea {number} is not a valid scene idea: {exc}") from None
        ideas.append(idea)
        repairs += [f"idea {number}: {repair}" for repair in fixed]
    return ideas, repairs


# --------------------------------------------------------------------------- pieces


def _provenance(raw: Any) -> Provenance:
    try:
        return Provenance.from_dict(raw)
    except ProvenanceError as exc:
        raise ResultError(f"the result's provenance record is malformed: {exc}") from None


# Roles whose bytes are read as they are, so the format the backend states must be the one
# Blender reads (a preview's raw RGBA pixels; see PROTOCOL.md).
_FILE_FORMATS = {"preview": "rgba8"}


def _checked_files(files: Any, job_folder: str | Path | None) -> dict[str, Path]:
    """``{role: real path}`` of the result's files, each a regular file inside ``job_folder``."""
    if not isinstance(files, list):
        raise ResultError("the result's files must be a list")
    found: dict[str, Path] = {}
    for item in files:
        role, path = getattr(item, "role", None), getattr(item, "path", None)
        if not isinstance(role, str) or not isinstance(path, str):
            raise ResultError("each result file needs a role and a path")
        if role in found:
            raise ResultError(f"the result names two {role} files")
        found[role] = inside(job_folder, path)
        if role in _FILE_FORMATS and getattr(item, "format", None) != _FILE_FORMATS[role]:
            raise ResultError(f"the result's {role} file has format {_shown(getattr(item, 'format', None))}, "
                              f"not {_FILE_FORMATS[role]!r}; nothing was read")
    return found


def inside(job_folder: str | Path | None, path: str) -> Path:
    """The real path of ``path`` when it is a regular file inside ``job_folder``; a symbolic
    link is followed first, so one that points out is refused. Else ``ResultError``."""
    if job_folder is None:
        raise ResultError(f"the result names the file {path!r}, but this job has no folder to write in")
    if not os.path.isabs(path):
        raise ResultError(f"the result names the file {path!r}, which is not an absolute path")
    folder = Path(os.path.realpath(job_folder))
    real = Path(os.path.realpath(path))
    if real == folder or not real.is_relative_to(folder):
        raise ResultError(f"the result names {path!r}, which lies outside the job's folder {str(folder)!r}; "
                          "nothing was read")
    try:
        mode = os.stat(real).st_mode
    except OSError:
        raise ResultError(f"the result names {path!r}, but the file is not there; "
                          "check free disk space and generate again") from None
    if not stat.S_ISREG(mode):
        raise ResultError(f"the result names {path!r}, which is not a regular file")
    return real


def _text(data: dict, name: str, default: str | None = None) -> str:
    value = data.get(name, default)
    if not isinstance(value, str):
        raise ResultError(f"the result's {name!r} must be text, got {_shown(value)}")
    return value


def _whole(data: dict, name: str) -> int:
    # Sizes, steps and seeds alike fit 0..SEED_MAX, which Blender's int properties hold.
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= SEED_MAX:
        raise ResultError(f"the result's {name!r} must be a whole number from 0 to {SEED_MAX}, "
                          f"got {_shown(value)}")
    return value


def _number(data: dict, name: str) -> float:
    value = data.get(name)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not fits_double(value):
        raise ResultError(f"the result's {name!r} must be a finite number, got {_shown(value)}")
    return float(value)


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(value)[:40]
