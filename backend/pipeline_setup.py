"""Getting a loaded text-to-image pipeline ready to run, in one order and one place: where its
parts live (``memory_mode``), how the denoiser's weights are stored (``quantisation``), then the
fast path (``fast_path``). Quantising comes before compiling, and placement before both.

What each step applied is noted on the pipeline and recorded in every result's provenance."""

from __future__ import annotations

from . import fast_path, memory_mode, quantisation

_NOTES = "_atelier_setup"


def prepare(pipe, device: str) -> None:
    """Place, quantise and speed up ``pipe`` for ``device`` as the environment asks."""
    memory_mode.place(pipe, device)
    quantisation.quantise(pipe, device)
    fast_path.speed_up(pipe, device)


def note(pipe, name: str, value) -> None:
    """Record that setting ``name`` of ``pipe`` is ``value`` (for ``applied``)."""
    notes = getattr(pipe, _NOTES, None)
    if notes is None:
        notes = {}
        object.__setattr__(pipe, _NOTES, notes)
    notes[name] = value


def applied(pipe) -> dict:
    """What ``prepare`` applied to ``pipe`` (``{}`` for none), for the provenance record."""
    return dict(getattr(pipe, _NOTES, None) or {})
