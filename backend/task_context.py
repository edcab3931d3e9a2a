"""What a task gets to do its work (``JobContext``) and what it hands back (``TaskOutput``).

Tasks never talk to the pipe themselves: they report progress, check for cancellation, load
models through the shared cache and write files into their own job folder through this object.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import protocol, provenance
from core.errors import Cancelled, TaskError
from core.schema import short  # a value echoed in a message: at most 40 characters

from .model_cache import ModelCache
from .models import LocatedModel, locate
from .output_files import WRITE_HINT

# Library versions recorded in every provenance record (only those installed).
_VERSIONED = ("torch", "diffusers", "transformers", "numpy", "safetensors", "xgrammar", "coloraide",
              "torchao", "accelerate")


@dataclass
class TaskOutput:
    """A finished job: the files it wrote, its provenance record and its payload."""

    files: list = field(default_factory=list)  # list[protocol.ResultFile]
    metadata: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)


class JobContext:
    """One job's view of the backend: device, model cache, progress, cancel, output folder."""

    def __init__(self, request: protocol.Request, cache: ModelCache,
                 emit: Callable[[protocol.Event], None] | None = None,
                 cancel_event: threading.Event | None = None) -> None:
        self.request = request
        self.allow_network: bool = bool(getattr(request, "allow_network", False))
        self._cache = cache
        self._emit = emit or (lambda event: None)
        self.cancel_event = cancel_event or threading.Event()  # set by the client's cancel
        self._job_dir: Path | None = None
        # Every task takes a seed the same way, so its range is checked here, before any work.
        seed = getattr(request, "seed", None)
        if seed is not None and not 0 <= seed <= protocol.SEED_MAX:
            raise TaskError("bad_request",
                            f"seed must be between 0 and {protocol.SEED_MAX}, got {short(seed)}",
                            hint="leave the seed empty for a random one")

    # Resolved on first use: a job that loads no model (a harmony or image palette) never
    # imports torch and never trips over a device it does not use.
    @functools.cached_property
    def device(self) -> str:
        """The device the request asked for, resolved to one that exists here."""
        from .device import resolve_device

        return resolve_device(getattr(self.request, "device", "auto"))

    @functools.cached_property
    def dtype(self):
        """The torch dtype models of this job compute in."""
        from .device import default_dtype

        return default_dtype(self.device)

    @functools.cached_property
    def seed(self) -> int:
        """The request's seed, or a fresh one drawn once per job; tasks seed their sampling with
        it and record it, so every result can be made again."""
        seed = getattr(self.request, "seed", None)
        return protocol.random_seed() if seed is None else seed

    # ----------------------------------------------------------------- progress and cancel

    def progress(self, step: int, total: int, stage: str = "") -> None:
        """Tell the client how far the job is (``step`` of ``total``)."""
        self._emit(protocol.ProgressEvent(id=self.request.id, step=step, total=total, stage=stage))

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` if the client cancelled this job; call it between steps."""
        if self.cancel_event.is_set():
            raise Cancelled()

    def early_pixels(self, path: Path, width: int, height: int) -> None:
        """Hand the client a texture's finished pixels ahead of its result (an ``image`` event):
        ``path``, a raw ``rgba8`` file of ``width`` x ``height`` pixels in this job's folder. The
        job is not over: its result (or an error) still follows."""
        self._emit(protocol.ImageEvent(id=self.request.id, width=width, height=height,
                                       files=[protocol.ResultFile("base_color", str(path), "rgba8")]))

    # ----------------------------------------------------------------- models

    def load(self, kind: str, model: str, loader: Callable[[LocatedModel, str, Any], Any]) -> Any:
        """The model ``model`` of ``kind``, loaded once and kept warm.

        ``loader(located_model, device, dtype)`` builds it on a cache miss.
        """
        allow_pickle = bool(getattr(self.request, "allow_pickle", False))
        key = (kind, model, self.device, str(self.dtype), allow_pickle)
        built, _ = self._cache.get_or_load(
            key,
            lambda: locate(model, self.allow_network, allow_pickle, kind=kind),
            lambda located: loader(located, self.device, self.dtype),
        )
        return built

    # ----------------------------------------------------------------- files

    def job_dir(self) -> Path:
        """This job's own folder under the request's ``output_dir`` (created on first call).

        Files are written here and nowhere else; the folder name comes from the request id,
        reduced to safe characters, so no id can point outside ``output_dir``. Every task that
        writes checked ``output_dir`` before its work began (``output_root``, which creates it);
        one deleted or made read-only since is ``write_failed``, like a file that cannot be
        written, and is not made again: the client that removed it has given the job up.
        """
        if self._job_dir is not None:
            return self._job_dir
        root = output_path(getattr(self.request, "output_dir", "")).resolve()
        if not root.is_dir() or not os.access(root, os.W_OK | os.X_OK):
            raise TaskError("write_failed", f"the output folder {root} was removed or cannot be written",
                            hint=WRITE_HINT)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", self.request.id).lstrip(".") or "job"
        folder = root / name
        try:
            suffix = 1
            while folder.exists():
                suffix += 1
                folder = root / f"{name}-{suffix}"
            folder.mkdir()
        except OSError as exc:
            raise TaskError("write_failed", f"cannot create the job folder {folder}: {exc.strerror or exc}",
                            hint=WRITE_HINT) from None
        if folder.resolve().parent != root:
            raise TaskError("bad_request", f"job folder {folder} would lie outside {root}",
                            hint="use a plain request id")
        self._job_dir = folder
        return folder

    def discard(self, path: Path) -> None:
        """Delete ``path``, a file this job wrote only for its own use, and the job folder
        once nothing else is in it (results stay; scratch files must not pile up)."""
        path.unlink(missing_ok=True)
        if self._job_dir is not None and not any(self._job_dir.iterdir()):
            self._job_dir.rmdir()
            self._job_dir = None

    # ----------------------------------------------------------------- provenance

    def provenance(self, engine: str, model: str, parameters: dict, **extra: Any) -> dict:
        """The one versioned record of how a result was made (``core.provenance``)."""
        located = self._cache.located_any(model)
        return provenance.build(
            self.request.type, engine, model, parameters, versions=library_versions(),
            model_source=located.path_or_id if located else model,
            revision=located.revision if located else None,
            # None for a job that ran no model on any device.
            device=self.__dict__.get("device"),
            dtype=str(self.dtype).removeprefix("torch.") if "dtype" in self.__dict__ else None,
            **extra)


def output_root(raw: str) -> Path:
    """The request's ``output_dir``, absolute, created and writable, or a ``bad_request`` saying
    what to change. Tasks that write files call it before loading a model, so a bad folder
    fails at once instead of after all the work."""
    root = output_path(raw)
    try:
        root.mkdir(parents=True, exist_ok=True)
        root = root.resolve()
    except OSError as exc:
        raise TaskError("bad_request", f"cannot create output_dir {raw!r}: {exc.strerror}",
                        hint="choose a folder you can write to") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise TaskError("bad_request", f"output_dir {raw!r} is not writable",
                        hint="choose a folder you can write to")
    return root


def output_path(raw: str) -> Path:
    """The request's ``output_dir`` as an absolute path (not looked at on disk), or a
    ``bad_request`` saying what to change."""
    if not raw:
        raise TaskError("bad_request", "output_dir is empty",
                        hint="name an absolute folder where the backend may write results")
    if "\0" in raw:
        raise TaskError("bad_request", "output_dir holds a NUL character",
                        hint="send a plain absolute folder path")
    try:
        root = Path(raw).expanduser()
    except RuntimeError:  # "~name" of a user this machine does not know
        raise TaskError("bad_request", f"output_dir {raw!r} names the home folder of an unknown user",
                        hint="send an absolute folder path") from None
    if not root.is_absolute():
        raise TaskError("bad_request", f"output_dir {raw!r} is not an absolute path",
                        hint="send an absolute folder path")
    return root


@functools.cache
def _installed_versions() -> tuple:
    # Reading package metadata costs milliseconds; the installed set does not change while running.
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return tuple(versions.items())


def library_versions() -> dict:
    """Every installed library that can change a result."""
    return dict(_installed_versions())
