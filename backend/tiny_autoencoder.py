"""The tiny autoencoder (TAESD) a texture job may decode with: found, loaded once, lent for one call.

It is kept in the model cache under its own kind, so it never pushes the texture pipeline out.
The pipeline borrows it only while one call runs and gets its own VAE back afterwards, so the
cached pipeline serves the next job exactly as loaded. A tiny autoencoder that cannot be had
(not downloaded: it is never fetched inside a job; a folder that holds something else; a latent
space of another family) is no failure: the full VAE decodes, and the note says why and what to change.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from core.errors import TaskError, first_line
from core.families import Family
from core.tiny_autoencoders import TINY_AUTOENCODER_ENV, tiny_autoencoder_for

from .models import TINY_AUTOENCODER_KIND, LocatedModel, locate

KIND = TINY_AUTOENCODER_KIND  # its model cache kind: one tiny autoencoder stays warm beside the pipeline


def tiny_autoencoder(job, pipe, family: Family) -> tuple[object | None, str, str]:
    """``(autoencoder, name, note)`` for ``pipe`` of ``family``: the loaded tiny autoencoder and
    its name (a hub id or a folder), or ``None`` and a note saying why the full VAE decodes."""
    name = tiny_autoencoder_for(family.name)
    try:
        # From the local cache or a folder only, whatever the request allows: a preview must
        # never wait for a download (nor ask the hub whether it could).
        locate(name, allow_network=False, kind=KIND)
        autoencoder = job.load(KIND, name, load_tiny_autoencoder)
    except TaskError as exc:
        hint = f"; {exc.hint}" if exc.hint else ""
        return None, name, (f"the full VAE decoded: tiny autoencoder {name} is not available "
                            f"({exc.message}){hint}")
    channels, wanted = autoencoder.config.latent_channels, pipe.vae.config.latent_channels
    if channels != wanted:
        return None, name, (f"the full VAE decoded: tiny autoencoder {name} reads {channels}-channel "
                            f"latents, {family.name} models make {wanted}; point "
                            f"{TINY_AUTOENCODER_ENV} at the family's tiny autoencoder or unset it")
    return autoencoder, name, ""


@contextlib.contextmanager
def decoding_with(pipe, autoencoder):
    """``pipe`` decodes with ``autoencoder`` inside the block (``None``: its own VAE); its own
    VAE is back afterwards, also when the call fails or is cancelled."""
    if autoencoder is None:
        yield
        return
    own = pipe.vae
    pipe.vae = autoencoder
    try:
        yield
    finally:
        pipe.vae = own


def load_tiny_autoencoder(located: LocatedModel, device: str, dtype):
    """Load an ``AutoencoderTiny`` with safetensors only; a folder holding another model is refused."""
    from diffusers import AutoencoderTiny

    folder = Path(located.path_or_id)
    if folder.is_dir():
        check_tiny_autoencoder_folder(folder)
    try:
        autoencoder = AutoencoderTiny.from_pretrained(
            located.path_or_id, dtype=dtype, use_safetensors=None if located.allow_pickle else True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise TaskError("model_invalid", f"cannot load {located.path_or_id} as a tiny autoencoder: "
                        f"{first_line(exc)}", hint="use a folder saved from diffusers' AutoencoderTiny "
                                                   "with .safetensors weights") from None
    return autoencoder.to(device).eval()


def check_tiny_autoencoder_folder(folder: Path) -> None:
    """Refuse a folder whose ``config.json`` names a model other than ``AutoencoderTiny``."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TaskError("model_invalid", f"{folder} has no readable config.json ({first_line(exc)})",
                        hint="use a folder saved from diffusers' AutoencoderTiny") from None
    found = config.get("_class_name") if isinstance(config, dict) else None
    if found != "AutoencoderTiny":
        raise TaskError("model_invalid", f"{folder} holds model class {str(found)[:40]}, not AutoencoderTiny",
                        hint="use a tiny autoencoder folder such as a download of madebyollin/taesd")
