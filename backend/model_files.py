"""A model's files on disk: a cheap fingerprint to notice that they changed, and a check that
every safetensors file is whole before a library tries to load it.

A warm backend keeps a model loaded for hours while its folder stays open to the user: it may
be deleted, re-downloaded, or a weights file cut short by a full disk or an interrupted copy.
``fingerprint`` (a few ``stat`` calls) lets the model cache notice that on its next use, and
``check_weights`` turns a damaged file into a ``model_invalid`` naming that file, where
diffusers and transformers would report an opaque error or a bug.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import TaskError

from .models import HUB_ID, PICKLE_SUFFIXES, LocatedModel

# The files a model is loaded from: configs (model_index.json, config.json, tokenizer files)
# and weights. A change to any of them means the loaded model no longer matches the folder.
MODEL_FILE_SUFFIXES = (".json", ".safetensors", *PICKLE_SUFFIXES)


def model_folder(located: LocatedModel) -> Path | None:
    """The folder ``located`` was (or will be) loaded from; None for a hub id not yet downloaded."""
    if located.is_local or located.revision is not None:
        return Path(located.path_or_id)
    return None


def model_files(folder: Path) -> list[Path]:
    """The config and weight files under ``folder``, in a stable order (hidden folders such as
    ``.git`` or ``.cache`` are skipped: they are no part of the model). Linked folders are
    followed, as the libraries that load the model follow them (a ``unet`` that links to
    another model's), each real folder once, so a link back up cannot loop."""
    found = []
    seen = {os.path.realpath(folder)}
    for parent, folders, names in os.walk(folder, followlinks=True):
        kept = []
        for name in sorted(folders):
            real = os.path.realpath(os.path.join(parent, name))
            if not name.startswith(".") and real not in seen:
                seen.add(real)
                kept.append(name)
        folders[:] = kept
        found += [Path(parent, name) for name in sorted(names) if name.endswith(MODEL_FILE_SUFFIXES)]
    return found


def fingerprint(located: LocatedModel) -> tuple | None:
    """Path, size, inode, modification and change time of every model file of ``located`` (None
    when it has no folder yet). The inode tells a file replaced by another, the change time a
    file rewritten in place, even when the copy kept size and modification time (``cp -p``).
    A deleted folder gives an empty fingerprint; a file that vanished halfway through the walk
    is recorded as such. A hub snapshot also records the commit its id now points to (its
    ``refs/main`` file): a newer revision downloaded since it loaded changes the fingerprint,
    so the id is found and loaded again, from the new snapshot."""
    folder = model_folder(located)
    if folder is None:
        return None
    stamps = [] if located.is_local else [("refs/main", hub_ref(folder))]
    for path in model_files(folder):
        try:
            status = path.stat()  # follows a hub snapshot's links to the blobs they name
        except OSError:
            stamps.append((str(path), None))
            continue
        stamps.append((str(path), status.st_size, status.st_ino, status.st_mtime_ns, status.st_ctime_ns))
    return tuple(stamps)


def hub_ref(snapshot: Path) -> str | None:
    """The commit the hub id of ``snapshot`` (``.../models--x--y/snapshots/<hash>``) points to in
    the local cache now, as ``from_pretrained`` resolves it; None when the cache holds no ref."""
    try:
        return (snapshot.parent.parent / "refs" / "main").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def check_weights(located: LocatedModel, model: str) -> None:
    """Refuse ``located`` when one of its .safetensors files is damaged or truncated, naming the
    file and how to get an intact one (``model`` is the name the request gave)."""
    folder = model_folder(located)
    if folder is None:
        return
    for path in model_files(folder):
        if path.suffix != ".safetensors":
            continue
        problem = safetensors_problem(path)
        if problem:
            again = (f"download it again with `python -m backend download {model.strip()}`"
                     if HUB_ID.match(model.strip()) else
                     "copy the model folder again from where it came from, or save it again with "
                     "save_pretrained")
            raise TaskError("model_invalid", f"weights file {path} is damaged or truncated: {problem}",
                            hint=f"{again}, or replace that file with an intact copy")


def safetensors_problem(path: Path) -> str:
    """What is wrong with the safetensors file ``path`` ("" when nothing is), as the
    ``safetensors`` library finds it when it opens the file: a header it cannot parse, or a size
    other than the header promises (a file cut short by a full disk or an interrupted copy).
    Only the header is read; the tensors are mapped, not loaded."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy"):
            return ""
    except SafetensorError as exc:
        return str(exc)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
