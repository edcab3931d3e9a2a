"""Atelier's wire protocol: newline-delimited JSON between Blender and the backend.

Standard library only: Blender's Python imports this module as it is (``client`` side), and
so does the backend. Every message is one JSON object on one line with a ``type`` field.
Requests go from the client to the backend and carry a client-chosen ``id``; events go back
and name the request they answer. ``PROTOCOL.md`` documents every message and field.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
import sys
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from .pbr import MAP_ROLES

PROTOCOL_VERSION = 1
PROVENANCE_SCHEMA = "atelier.provenance/1"

# The fixed list of error codes. Clients switch on these; never invent one ad hoc.
ERROR_CODES = (
    "bad_request",  # malformed line, unknown type, wrong field type or value
    "model_missing",  # the model is neither cached nor downloadable (offline)
    "model_invalid",  # the folder or repo is not a usable model (or holds pickle weights)
    "out_of_memory",  # the device ran out of memory; memory was freed
    "cancelled",  # a cancel request stopped the job
    "invalid_output",  # the model's answer failed validation, also after a retry
    "internal",  # a bug: the message says what broke
    "backend_exited",  # the backend process ended mid-job (client side), or a remote replica did (HTTP)
    "write_failed",  # a result file could not be written (disk full, file-size limit, folder not writable)
)

SEAMLESS_MODES = ("off", "x", "y", "xy")
PALETTE_SOURCES = ("prompt", "prompt_image", "image", "harmony")
# A palette request's ``harmony`` values are the keys of ``core.colors.HARMONY_RULES`` (defined
# there once; importing it here would close the circle protocol -> colors -> errors -> protocol).
FILE_ROLES = ("base_color", *MAP_ROLES, "preview")  # what each file of a result is
SEED_MAX = 2**31 - 1  # seeds are 0..SEED_MAX: what torch generators and Blender's int properties hold
MAX_NESTING = 32  # levels of objects and arrays in one line: requests need 4; deeper ones are refused
MAX_ID_CHARS = 64  # a request id names a job folder and every event; clients use short random ids
MAX_LINE_BYTES = 4 * 2**20  # one protocol line; the largest real request (an idea context) is ~100 kB


def random_seed() -> int:
    """A fresh seed in 0..SEED_MAX (always reported back, so the result can be made again)."""
    return secrets.randbelow(SEED_MAX + 1)


class ProtocolError(ValueError):
    """A message that cannot be accepted; becomes an ``error`` event, never a crash."""

    code = "bad_request"  # a message the backend cannot read is always the sender's to fix

    def __init__(self, message: str, hint: str = "", request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.request_id = request_id


# --------------------------------------------------------------------------- messages


@dataclass
class Message:
    """Base of every message; ``type`` is the wire name."""

    type: ClassVar[str] = ""

    def to_dict(self) -> dict:
        data = {"type": self.type}
        data.update(dataclasses.asdict(self))
        return data


# Requests (client -> backend) ---------------------------------------------------------


@dataclass
class Request(Message):
    id: str


@dataclass
class PingRequest(Request):
    """Liveness check; answered with ``pong``."""

    type: ClassVar[str] = "ping"


@dataclass
class TextureRequest(Request):
    """Generate a texture image from a prompt. ``None`` means the model's recommended value."""

    type: ClassVar[str] = "texture"
    prompt: str = ""
    output_dir: str = ""
    negative_prompt: str = ""
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    seamless: str = "off"
    style: str = ""  # the style's name, for the record only: the prompts arrive expanded
    model: str = ""
    device: str = "auto"
    allow_network: bool = False
    allow_pickle: bool = False
    # Scheduling only: a newer preview replaces a queued or running one, and a preview never
    # holds up other jobs by more than one step. The result is one raw ``preview`` file, no PNG.
    preview: bool = False
    # Decode with the family's tiny autoencoder (TAESD): much faster, a little softer. When it
    # is not available the full VAE decodes and the result's ``data.notes`` says so.
    tiny_autoencoder: bool = False
    # Hand-over: send the finished pixels as raw RGBA in an ``image`` event before the PNG with
    # provenance is encoded, so a client that can show raw pixels puts the material up at once.
    # The ``result`` (with the PNG) follows as always. Ignored for a preview (already raw).
    early_pixels: bool = False


@dataclass
class ImageEditRequest(Request):
    """Fields every request that makes a new version of an image file shares (``refine``,
    ``inpaint``, ``upscale``); ``None`` means the model's recommended value."""

    image: str = ""
    prompt: str = ""
    negative_prompt: str = ""
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    style: str = ""  # the style's name, for the record only: the prompts arrive expanded
    model: str = ""
    output_dir: str = ""
    device: str = "auto"
    allow_network: bool = False
    allow_pickle: bool = False


@dataclass
class RefineRequest(ImageEditRequest):
    """A new version of ``image`` by image-to-image: ``strength`` 0 < s <= 1 (1 = ignore it)."""

    type: ClassVar[str] = "refine"
    strength: float = 0.5
    seamless: str = "off"


@dataclass
class InpaintRequest(ImageEditRequest):
    """Repaint where ``mask`` is white (``""`` = where ``image`` is transparent); elsewhere the
    result keeps ``image``'s pixels. ``seam_fix`` also repaints where the edges meet."""

    type: ClassVar[str] = "inpaint"
    mask: str = ""
    strength: float = 1.0
    seam_fix: bool = False


@dataclass
class UpscaleRequest(ImageEditRequest):
    """``image`` made ``factor`` (2 or 4) times larger by tiled image-to-image."""

    type: ClassVar[str] = "upscale"
    factor: int = 2
    strength: float | None = None  # None = core.image_edit.UPSCALE_STRENGTH
    seamless: str = "off"
    tile: int | None = None  # pixels a side of one tile; None = the model's native size


@dataclass
class ProjectRequest(ImageEditRequest):
    """One view of a projection: paint what the camera sees of the mesh, steered by its depth
    image ``control_image`` (normalised inverse depth: near bright, background black) through a
    depth ControlNet. The first view has no ``image``: the whole view is painted. Later views
    send the texture painted so far as seen from this camera (``image``) and ``mask`` (white =
    not painted yet): only the mask is painted, every other pixel comes back unchanged. The
    view's size is the control image's."""

    type: ClassVar[str] = "project"
    control_image: str = ""
    mask: str = ""
    control_model: str = ""  # "" = ATELIER_CONTROL_MODEL, else the family's entry in core.control_models
    strength: float = 1.0  # inside the mask, as for ``inpaint``


@dataclass
class RestyleRequest(ImageEditRequest):
    """A new version of a render (``image``) that keeps its structure: image-to-image steered by
    the render's depth image ``control_image`` through a depth ControlNet (``""`` = no depth:
    plain image-to-image)."""

    type: ClassVar[str] = "restyle"
    control_image: str = ""
    control_model: str = ""
    strength: float = 0.6


# Request fields that name an input file on the client's machine. A backend on another machine
# cannot read them: the remote transport uploads each named file with the request, and the
# server replaces the path with its own copy (PROTOCOL.md, "Over HTTP").
INPUT_FILE_FIELDS = ("image", "mask", "control_image")


def input_files(request: Request) -> dict[str, str]:
    """The input files ``request`` names: {field: path} for every non-empty path field."""
    return {name: value for name in INPUT_FILE_FIELDS
            if isinstance(value := getattr(request, name, ""), str) and value}


@dataclass
class PaletteRequest(Request):
    """Make a colour scheme from a prompt, an image file or a base colour."""

    type: ClassVar[str] = "palette"
    source: str = "prompt"
    prompt: str = ""
    negative_prompt: str = ""
    style: str = ""
    image: str = ""
    count: int = 5
    harmony: str = ""
    base_color: str = ""
    model: str = ""
    device: str = "auto"
    output_dir: str = ""
    allow_network: bool = False
    seed: int | None = None


@dataclass
class IdeasRequest(Request):
    """Suggest scene ideas (documents of ``schemas/scene_idea.json``) for a prompt."""

    type: ClassVar[str] = "ideas"
    prompt: str = ""
    count: int = 3
    context: dict = field(default_factory=dict)
    model: str = ""
    device: str = "auto"
    allow_network: bool = False
    seed: int | None = None


@dataclass
class MapsRequest(Request):
    """Make PBR maps (``core.pbr.MAP_ROLES``) of a base-colour image file; ``model`` "" means
    ``ATELIER_MAPS_MODEL``, else ``marigold``; ``classic`` needs no weights."""

    type: ClassVar[str] = "maps"
    image: str = ""
    maps: list = field(default_factory=lambda: list(MAP_ROLES))
    seamless: str = "off"
    model: str = ""
    output_dir: str = ""
    steps: int | None = None
    seed: int | None = None
    device: str = "auto"
    allow_network: bool = False


@dataclass
class DoctorRequest(Request):
    """Check this backend end to end (libraries, devices, a tiny texture and a tiny text job);
    answered with ``result`` ``data`` ``{ok, report}``, also when something is broken."""

    type: ClassVar[str] = "doctor"
    device: str = "auto"
    texture_model: str = ""  # whose GPU memory need is checked; "" = ATELIER_TEXTURE_MODEL or the default


@dataclass
class ModelsRequest(Request):
    """List the models Atelier knows (``core.model_catalog``) with what this machine holds of
    each: answered with ``result`` ``data`` ``{"models": [...]}``; reads the cache only."""

    type: ClassVar[str] = "models"


@dataclass
class DownloadRequest(Request):
    """Download ``model`` (a hub id) into the Hugging Face cache: safetensors, configs and
    tokenizer files only. Progress counts bytes; a cancel or a failure leaves nothing
    half-written. ``accept_licence`` must be true for a licence that restricts commercial use."""

    type: ClassVar[str] = "download"
    model: str = ""
    revision: str = ""  # "" = the default branch
    accept_licence: bool = False


@dataclass
class DeleteModelRequest(Request):
    """Delete one cached revision of ``model``, only if Atelier downloaded it (its record says so)."""

    type: ClassVar[str] = "delete_model"
    model: str = ""
    revision: str = ""


@dataclass
class CancelRequest(Request):
    """Cancel job ``job``: a queued job is dropped at once, a running one at its next step."""

    type: ClassVar[str] = "cancel"
    job: str = ""


@dataclass
class UnloadRequest(Request):
    """Drop every cached model and give device memory back."""

    type: ClassVar[str] = "unload"


@dataclass
class ShutdownRequest(Request):
    """Finish nothing more and exit."""

    type: ClassVar[str] = "shutdown"


# Events (backend -> client) -----------------------------------------------------------


@dataclass
class Event(Message):
    pass


@dataclass
class HelloEvent(Event):
    """First line the backend writes: who it is and what it can do."""

    type: ClassVar[str] = "hello"
    protocol: int = PROTOCOL_VERSION
    backend_version: str = ""
    capabilities: list = field(default_factory=list)
    pid: int = 0
    limits: dict = field(default_factory=dict)  # max_size, max_steps, min_size of this backend


@dataclass
class PongEvent(Event):
    type: ClassVar[str] = "pong"
    id: str = ""


@dataclass
class AcceptedEvent(Event):
    """The request was valid and is queued (``position`` 0 = running now)."""

    type: ClassVar[str] = "accepted"
    id: str = ""
    position: int = 0


@dataclass
class ProgressEvent(Event):
    type: ClassVar[str] = "progress"
    id: str = ""
    step: int = 0
    total: int = 0
    stage: str = ""


@dataclass
class ResultFile:
    """One file a job wrote; ``role`` says what it is (``base_color``, later ``normal`` ...)."""

    role: str
    path: str
    format: str


@dataclass
class ImageEvent(Event):
    """A texture's finished pixels, sent before its ``result`` when the request asked for
    ``early_pixels``: one ``base_color`` file of format ``rgba8`` (``width`` x ``height`` x 4
    bytes, top row first) in the job's folder. Not the end of the job: it may still fail."""

    type: ClassVar[str] = "image"
    id: str = ""
    files: list = field(default_factory=list)
    width: int = 0
    height: int = 0


@dataclass
class ResultEvent(Event):
    """A job finished. ``metadata`` is the provenance record; ``data`` the task's payload."""

    type: ClassVar[str] = "result"
    id: str = ""
    files: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)


@dataclass
class ErrorEvent(Event):
    type: ClassVar[str] = "error"
    id: str | None = None
    code: str = "internal"
    message: str = ""
    hint: str = ""


REQUEST_TYPES = {
    cls.type: cls
    for cls in (PingRequest, TextureRequest, RefineRequest, InpaintRequest, UpscaleRequest, ProjectRequest,
                RestyleRequest, PaletteRequest, IdeasRequest, MapsRequest, DoctorRequest, ModelsRequest,
                DownloadRequest, DeleteModelRequest, CancelRequest, UnloadRequest, ShutdownRequest)
}
EVENT_TYPES = {
    cls.type: cls
    for cls in (HelloEvent, PongEvent, AcceptedEvent, ProgressEvent, ImageEvent, ResultEvent, ErrorEvent)
}


# --------------------------------------------------------------------------- coding


def encode(message: Message) -> str:
    """One protocol line (without the newline)."""
    return json.dumps(message.to_dict(), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))


def decode_request(line: str) -> Request:
    """Parse and type-check one request line; raises ``ProtocolError`` with a hint."""
    return _decode(line, REQUEST_TYPES, "request")


def decode_event(line: str) -> Event:
    """Parse one event line (client side)."""
    event = _decode(line, EVENT_TYPES, "event")
    if isinstance(event, (ImageEvent, ResultEvent)):
        event.files = [f if isinstance(f, ResultFile) else _result_file(f, event.id) for f in event.files]
    return event


def _result_file(raw: Any, request_id: str | None = None) -> ResultFile:
    if not isinstance(raw, dict):
        raise ProtocolError("a result file must be an object with role, path and format",
                            request_id=request_id)
    return _build(ResultFile, raw, request_id)


def _decode(line: str, registry: dict, what: str):
    def whole_number(digits: str) -> int:
        try:
            return int(digits)
        except ValueError:  # more digits than Python turns into an int; its own message names a setting
            limit = sys.get_int_max_str_digits()
            raise ProtocolError(f"a number has too many digits (more than {limit})",
                                hint=f"send numbers of at most {limit} digits") from None

    try:
        raw = json.loads(line, parse_constant=_reject_constant, parse_int=whole_number)
    except RecursionError:  # nesting deeper than the parser goes
        raise ProtocolError(f"a {what} is nested more than {MAX_NESTING} levels deep",
                            hint="send plain objects and arrays (PROTOCOL.md)") from None
    except ProtocolError:
        raise
    except (json.JSONDecodeError, ValueError) as exc:
        raise ProtocolError(f"not a JSON line: {exc}",
                            hint="send one JSON object per line, UTF-8, no NaN") from None
    if not isinstance(raw, dict):
        raise ProtocolError(f"a {what} must be a JSON object, got {type(raw).__name__}",
                            hint='send one object per line, e.g. {"type": "ping", "id": "1"}')
    problem = value_problem(raw)
    request_id = raw.get("id") if isinstance(raw.get("id"), str) and _is_text(raw["id"]) else None
    if request_id is not None and not 0 < len(request_id) <= MAX_ID_CHARS:
        raise ProtocolError(f"the id has {len(request_id)} characters; use 1 to {MAX_ID_CHARS}",
                            hint="send a short unique id, e.g. 12 hex digits")
    if problem:
        raise ProtocolError(problem, hint="send finite numbers, text that is valid Unicode and at most "
                                          f"{MAX_NESTING} levels of nesting", request_id=request_id)
    kind = raw.get("type")
    cls = registry.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown {what} type {kind!r}",
                            hint=f"known types: {', '.join(sorted(registry))}",
                            request_id=request_id)
    body = {k: v for k, v in raw.items() if k != "type"}
    return _build(cls, body, request_id)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def value_problem(value: Any, path: str = "", depth: int = 0) -> str | None:
    """What makes a decoded value unfit to handle, naming where; None when it is fine.

    Valid JSON can still hold numbers that overflow to infinity (``1e999``), strings that are
    not Unicode text (a lone surrogate escape such as ``"\\udfff"``, which no UTF-8 line can carry
    back) and nesting deep enough to exhaust recursion in whatever reads it next."""
    where = path or "the message"
    if depth > MAX_NESTING:
        return f"field {path.split('.')[0]!r} is nested more than {MAX_NESTING} levels deep"
    if isinstance(value, float) and not math.isfinite(value):
        return f"field {where!r} must be a finite number"
    if isinstance(value, str) and not _is_text(value):
        return f"field {where!r} is not valid Unicode text"
    if isinstance(value, dict):
        items = value.items()
        if not all(_is_text(key) for key in value):
            return f"a field name in {where} is not valid Unicode text"
    else:
        items = enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = value_problem(item, f"{path}.{key}" if path else str(key), depth + 1)
        if found:
            return found
    return None


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _build(cls, body: dict, request_id: str | None):
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise ProtocolError(f"unknown field(s) {', '.join(unknown)} for {cls.type or cls.__name__}",
                            hint=f"allowed fields: {', '.join(sorted(known))}",
                            request_id=request_id)
    values = {}
    for name, spec in known.items():
        if name in body:
            values[name] = _check_type(name, body[name], hints[name], request_id)
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ProtocolError(f"missing field {name!r}", hint="PROTOCOL.md lists every field",
                                request_id=request_id)
    return cls(**values)


_SIMPLE = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
           dict: "an object", list: "an array"}


def _check_type(name: str, value: Any, hint: Any, request_id: str | None) -> Any:
    optional = typing.get_origin(hint) in (Union, types.UnionType) and type(None) in typing.get_args(hint)
    if optional:
        if value is None:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    ok = (
        isinstance(value, bool) if hint is bool
        else isinstance(value, int) and not isinstance(value, bool) if hint is int
        else isinstance(value, (int, float)) and not isinstance(value, bool) if hint is float
        else isinstance(value, hint)
    )
    if not ok:
        raise ProtocolError(f"field {name!r} must be {_SIMPLE.get(hint, hint)}, got {json.dumps(value)[:40]}",
                            hint="PROTOCOL.md lists the type of every field", request_id=request_id)
    if hint is float:
        try:
            value = float(value)
        except OverflowError:  # an integer too long for a double (non-finite floats are refused earlier)
            raise ProtocolError(f"field {name!r} must be a finite number that fits in a double",
                                hint="send an ordinary number", request_id=request_id) from None
    return value
