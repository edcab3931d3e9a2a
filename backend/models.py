"""Finding a model: a local folder or a Hugging Face id, without surprises.

``locate`` answers before anything heavy is loaded: it says whether the model is there, what
revision it is, and refuses pickle-only weights (loading a pickle can run code). With the
network off (``HF_HUB_OFFLINE=1`` or a request that does not allow it) a model that is not in
the local Hugging Face cache fails at once with ``model_missing`` instead of retrying: the hint
says how to download it, or, for an id its publisher withdrew, what to use instead. With the
network on, the hub is asked first whether the model exists, so an id that answers "not found"
is reported as withdrawn or renamed, with the alternatives, rather than as a failed download.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from core import maps_models, texture_models
from core.errors import TaskError
from core.families import DEFAULT_TEXT_MODEL, DEFAULT_TEXTURE_MODEL
from core.tiny_autoencoders import TINY_AUTOENCODER_ENV, TINY_AUTOENCODERS

# Files that hold weights in Python's pickle format; loading one can execute code.
PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
CONFIG_FILES = ("model_index.json", "config.json")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# The kind of the small decoder a live preview may use (``backend.tiny_autoencoder``).
TINY_AUTOENCODER_KIND = "tiny-autoencoder"
# How a hint names a model of each kind.
_KIND_WORDS = {"texture": "a diffusers text-to-image model", "text": "an instruct (chat) model",
               TINY_AUTOENCODER_KIND: "a tiny autoencoder (diffusers AutoencoderTiny)",
               **{f"maps-{part.folder}": f"a {part.pipeline}" for part in maps_models.MARIGOLD_PARTS}}


@dataclass
class LocatedModel:
    """Where a model lives. ``path_or_id`` is what ``from_pretrained`` gets; ``revision`` is
    the hub commit when known; ``is_local`` is true for a folder the user named."""

    path_or_id: str
    revision: str | None
    is_local: bool
    allow_pickle: bool = False

    def settled(self) -> LocatedModel:
        """Where the model is once loaded. A hub model that ``from_pretrained`` has just
        downloaded now lies in the cache: its snapshot and commit go in the provenance record,
        as for a model that was there before."""
        if self.revision is not None or self.is_local:
            return self
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            snapshot = Path(snapshot_download(self.path_or_id, local_files_only=True))
        except LocalEntryNotFoundError:
            return self
        return replace(self, path_or_id=str(snapshot), revision=snapshot.name)


def network_allowed(allow_network: bool) -> bool:
    """Downloads happen only when the request allows them and the hub is not forced offline."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    return allow_network and not offline


def locate(model: str, allow_network: bool, allow_pickle: bool = False,
           kind: str = "texture") -> LocatedModel:
    """Resolve ``model`` (a folder or a hub id) or raise ``TaskError`` saying how to get it.

    ``kind`` ('texture', 'text', a Marigold part's ``maps-...`` or ``tiny-autoencoder``) only
    shapes the messages and hints: they suggest a model of that kind.
    """
    model = model.strip()
    if not model:
        raise TaskError("bad_request", f"no {kind} model was named",
                        hint=f"set a Hugging Face id (e.g. {example_model(kind)}) or a local folder")
    try:
        path = Path(model).expanduser()
        is_folder = path.is_dir()
    except (RuntimeError, OSError) as exc:  # "~name" of an unknown user, a name too long to look up
        raise TaskError("model_missing", f"{kind} model {model[:200]!r} cannot be looked up: {exc}",
                        hint=f"give an existing folder, or the Hugging Face id of "
                             f"{_KIND_WORDS.get(kind, 'a model')} such as {example_model(kind)}") from None
    if is_folder:
        check_folder(path, allow_pickle)
        return LocatedModel(str(path.resolve()), _snapshot_revision(path), True, allow_pickle)
    if path.is_absolute() or model.startswith((".", "~")) or not HUB_ID.match(model):
        if kind == TINY_AUTOENCODER_KIND:
            raise TaskError("model_missing", f"tiny autoencoder folder {model!r} does not exist",
                            hint=f"check the folder {TINY_AUTOENCODER_ENV} names (one saved from diffusers' "
                                 "AutoencoderTiny), or unset it for the model family's own")
        raise TaskError("model_missing", f"{kind} model folder {model!r} does not exist",
                        hint=f"check the path, or give the Hugging Face id of "
                             f"{_KIND_WORDS.get(kind, 'a model')} such as {example_model(kind)}")
    return _locate_hub(model, allow_network, allow_pickle, kind)


def example_model(kind: str) -> str:
    """The model a hint gives as an example: the default of ``kind`` ('texture' or 'text'), the
    hub id of a Marigold part (kinds ``maps-normals``, ``maps-appearance``, ``maps-depth``), or
    SD's tiny autoencoder (kind ``tiny-autoencoder``)."""
    if kind == "text":
        return DEFAULT_TEXT_MODEL
    if kind == TINY_AUTOENCODER_KIND:
        return TINY_AUTOENCODERS["sd"]
    parts = {f"maps-{part.folder}": part.hub_id for part in maps_models.MARIGOLD_PARTS}
    return parts.get(kind, DEFAULT_TEXTURE_MODEL)


def texture_model_setting(requested: str = "") -> str:
    """The texture model a job uses: the request's, else ``ATELIER_TEXTURE_MODEL``, else the default."""
    return requested.strip() or os.environ.get("ATELIER_TEXTURE_MODEL", "") or DEFAULT_TEXTURE_MODEL


def check_folder(path: Path, allow_pickle: bool) -> None:
    """Refuse a folder that has no model config, or whose weights are pickle only."""
    if not any((path / name).is_file() for name in CONFIG_FILES):
        raise TaskError("model_invalid",
                        f"{path} is not a model folder (no model_index.json or config.json)",
                        hint="point to a folder saved with save_pretrained, or a Hugging Face id")
    if allow_pickle:
        return
    pickled = pickle_only_folders(path)
    if pickled:
        names = ", ".join(str(p.relative_to(path)) or "." for p in pickled)
        raise TaskError("model_invalid",
                        f"{path} holds weights only in pickle format ({names}); "
                        "loading a pickle can run arbitrary code",
                        hint="convert the weights to .safetensors, or allow pickle weights "
                             "explicitly if you trust this model")


def pickle_only_folders(path: Path) -> list[Path]:
    """Folders under ``path`` that hold pickle weights and no safetensors file."""
    found = []
    for folder in [path, *sorted(p for p in path.rglob("*") if p.is_dir())]:
        files = [f.name for f in folder.iterdir() if f.is_file()]
        has_pickle = any(name.endswith(PICKLE_SUFFIXES) for name in files)
        if has_pickle and not any(name.endswith(".safetensors") for name in files):
            found.append(folder)
    return found


def _snapshot_revision(path: Path) -> str | None:
    """The commit hash when ``path`` is a hub cache snapshot (``.../snapshots/<hash>``)."""
    resolved = path.resolve()
    if resolved.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", resolved.name):
        return resolved.name
    return None


def _locate_hub(model: str, allow_network: bool, allow_pickle: bool, kind: str) -> LocatedModel:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        # Only the cache: nothing is fetched here even when the network is allowed.
        snapshot = Path(snapshot_download(model, local_files_only=True))
    except LocalEntryNotFoundError:
        if network_allowed(allow_network):
            _check_on_hub(model, kind)
            # from_pretrained downloads it; the revision is the hub's default branch.
            return LocatedModel(model, None, False, allow_pickle)
        if kind == TINY_AUTOENCODER_KIND:
            raise tiny_autoencoder_missing(model) from None
        if kind == "texture" and texture_models.is_withdrawn(model):
            raise TaskError("model_missing", f"model {model!r} is not in the local Hugging Face cache, "
                            "and its publisher withdrew it from the hub",
                            hint=texture_models.replacement_hint(model)) from None
        # Name the switch that keeps downloads off: the request, or HF_HUB_OFFLINE over it.
        download = texture_models.download_command(model)
        hint = (f"HF_HUB_OFFLINE=1 blocks downloads: unset it and download it once with "
                f"`{download}`, or point to a local folder" if allow_network else
                f"download it once with `{download}`, allow online access in Blender's "
                "preferences (--allow-network on the command line), or point to a local folder")
        raise TaskError(
            "model_missing",
            f"model {model!r} is not in the local Hugging Face cache and downloads are off",
            hint=hint,
        ) from None
    check_folder(snapshot, allow_pickle)
    return LocatedModel(str(snapshot), snapshot.name, False, allow_pickle)


def tiny_autoencoder_missing(model: str) -> TaskError:
    """The report for a tiny autoencoder that is not in the local cache: what it is, and the two
    ways to have it (a job never downloads one: a live preview must not wait for the network)."""
    return TaskError("model_missing", f"tiny autoencoder {model!r} (the small decoder that makes live "
                     "previews fast) is not in the local Hugging Face cache",
                     hint=f"download it once with `{texture_models.download_command(model)}` or from the "
                          f"model manager in Atelier's preferences, or set {TINY_AUTOENCODER_ENV} to a "
                          "folder saved from diffusers' AutoencoderTiny")


def _check_on_hub(model: str, kind: str) -> None:
    """Ask the hub whether ``model`` can be downloaded; raise ``TaskError`` when it says no."""
    from huggingface_hub import auth_check
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        auth_check(model)
    except GatedRepoError:
        raise TaskError("model_missing", f"model {model!r} is gated on the Hugging Face hub: its licence "
                        "must be accepted before it can be downloaded",
                        hint=f"accept it at https://huggingface.co/{model} and log in with `hf auth login`, "
                             "or point to a local folder") from None
    except RepositoryNotFoundError:
        raise not_found_on_hub(model, kind) from None
    except Exception:  # an unreachable hub or a refused token: the download itself reports it
        return


def not_found_on_hub(model: str, kind: str) -> TaskError:
    """The report for a hub id that answers "not found": withdrawn or renamed (the hub answers
    the same for a private repository), with what to use instead."""
    hint = (texture_models.replacement_hint(model) if kind == "texture" else
            f"check the id, use a local folder that holds the model, or e.g. {example_model(kind)}")
    return TaskError("model_missing", f"model {model!r} was not found on the Hugging Face hub: "
                     "it was withdrawn or renamed (or is private)", hint=hint)
