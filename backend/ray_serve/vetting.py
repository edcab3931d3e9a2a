"""What the server accepts of a job request it did not write: the request line, its input files,
and the model paths it may name. Every refusal is a ``bad_request`` error event saying what to change.
"""

from __future__ import annotations

import os
from pathlib import Path

from core import protocol

from ..models import HUB_ID

MODEL_DIRS_ENV = "ATELIER_SERVE_MODEL_DIRS"
# Request fields naming a model: a hub id passes, a filesystem path only inside a model folder.
MODEL_FIELDS = ("model", "control_model", "texture_model")
CONTROL_TYPES = ("ping", "cancel", "unload", "shutdown")
# The models on the server are shared by every user: only whoever runs the server adds or deletes them.
MODEL_MANAGEMENT_TYPES = ("download", "delete_model")


class Refused(ValueError):
    """A request the server will not run; ``event`` is the error event that says why."""

    def __init__(self, message: str, hint: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.event = protocol.ErrorEvent(id=request_id, code="bad_request", message=message, hint=hint)


def model_dirs(flags: list[str] | None) -> list[Path]:
    """The folders model paths may point into: ``--model-dir`` flags, else ``ATELIER_SERVE_MODEL_DIRS``."""
    raw = flags or [entry for entry in os.environ.get(MODEL_DIRS_ENV, "").split(os.pathsep) if entry]
    return [Path(entry).expanduser().resolve() for entry in raw]


def job_request(parts: dict[str, bytes], allowed_model_dirs: list[Path],
                allow_network: bool = False) -> protocol.Request:
    """The job request of an upload, checked; its input-file fields still name the client's paths.
    Its ``allow_network`` is turned off unless the server was started with ``--allow-downloads``,
    and its ``early_pixels`` always: no ``image`` event comes over HTTP."""
    if "request" not in parts:
        raise Refused("the upload has no 'request' part", "send the request JSON in a part named request")
    try:
        request = protocol.decode_request(parts["request"].decode("utf-8"))
    except UnicodeDecodeError:
        raise Refused("the request part is not UTF-8", "send the request JSON as UTF-8") from None
    except protocol.ProtocolError as exc:
        raise Refused(exc.message, exc.hint, exc.request_id) from None
    if request.type in CONTROL_TYPES:
        raise Refused(f"a {request.type!r} request is not a job",
                      "cancel with POST /v1/jobs/{job}/cancel; the others have no HTTP form", request.id)
    if request.type in MODEL_MANAGEMENT_TYPES:
        raise Refused("model management is done on the server",
                      "ask whoever runs the server to download or delete models there", request.id)
    if hasattr(request, "allow_network") and not allow_network:
        request.allow_network = False  # models come only from the server's cache and model folders
    if getattr(request, "early_pixels", False):
        # A result's files travel with it (fetched by role): pixels sent ahead would only cost
        # the replica one more file and the client one more download before the result.
        request.early_pixels = False
    if getattr(request, "allow_pickle", False):
        raise Refused("a remote server never loads pickle weights (they can run code on it)",
                      "convert the model to safetensors, or set allow_pickle false", request.id)
    named = protocol.input_files(request)
    unknown = sorted(set(parts) - {"request", *protocol.INPUT_FILE_FIELDS})
    if unknown:
        fields = ", ".join(protocol.INPUT_FILE_FIELDS)
        raise Refused(f"unknown part(s) {', '.join(unknown)}",
                      f"send only request and the file fields {fields}", request.id)
    missing = sorted(set(named) - set(parts))
    if missing:
        raise Refused(f"the request names the file(s) {', '.join(missing)} but the upload has no such part",
                      "upload each input file as a part named by its field", request.id)
    unasked = sorted(name for name in parts if name in protocol.INPUT_FILE_FIELDS and name not in named)
    if unasked:
        raise Refused(f"the upload has a part for {', '.join(unasked)} but the request's field is empty",
                      "set the field to the file's name, or leave the part out", request.id)
    for name in MODEL_FIELDS:
        value = getattr(request, name, "")
        if isinstance(value, str) and value.strip() and not model_allowed(value.strip(), allowed_model_dirs):
            raise Refused(f"{name} {value[:200]!r} is a path outside the server's model folders",
                          "use a Hugging Face id, or the absolute path of a folder inside one the server was "
                          "started with (--model-dir)", request.id)
    return request


def model_allowed(model: str, allowed: list[Path]) -> bool:
    """A hub id or a plain name (``classic``) that is no local path, or an absolute path inside
    ``allowed``. A relative path is refused: what it names depends on the working folder of the
    process that loads it."""
    try:
        path = Path(model).expanduser()
        exists = path.exists()
    except (RuntimeError, OSError, ValueError):  # an unknown user's "~name", a name too long, a NUL
        return False
    looks_like_id = not path.is_absolute() and not model.startswith((".", "~")) and bool(
        HUB_ID.match(model) or ("/" not in model and "\\" not in model))
    if looks_like_id and not exists:
        return True
    if not path.is_absolute():
        return False
    resolved = path.resolve()  # links followed: one pointing out of a model folder is refused
    return any(resolved == folder or resolved.is_relative_to(folder) for folder in allowed)
