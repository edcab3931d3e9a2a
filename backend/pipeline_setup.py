"""Getting a loaded text-to-image pipeline ready to run, in one order and one place: where its
parts live (``memory_mode``), how the denoiser's weights are stored (``quantisation``), then the
fast path (``fast_path``). Quantising comes before compiling, and placement before both.

What each step applied is noted on the pipeline (``setup_notes``) and recorded in every result's
provenance."""

from __future__ import annotations

from . import fast_path, memory_mode, quantisation
from .setup_notes import applied  # noqa: F401 (re-exported: callers ask pipeline_setup)


def check(device: str) -> None:
    """Read every setting ``prepare`` follows and refuse a bad one (a value Atelier does not know,
    a quantisation ``device`` cannot run, a library missing) with a ``bad_request`` that names the
    variable: called by each task before its model loads, so a typo costs no load. With
    compiling on, the compile cache folder is made ready too."""
    fast_path.resolve(device)
    quantisation.check(device)
    memory_mode.settings(device)


def prepare(pipe, device: str) -> None:
    """Place, quantise and speed up ``pipe`` for ``device`` as the environment asks."""
    memory_mode.place(pipe, device)
    quantisation.quantise(pipe, device)
    fast_path.speed_up(pipe, device)

