"""What the steps of ``pipeline_setup.prepare`` applied to a pipeline, noted on the pipeline
itself so every result's provenance can say how it was made.

Its own module, below the steps (``memory_mode``, ``quantisation``, ``fast_path``) and
``pipeline_setup``, which all note here: no step imports the module that calls it."""

from __future__ import annotations

_NOTES = "_atelier_setup"


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


def copy(source, target) -> None:
    """Give ``target`` (a pipeline made from ``source``'s models) ``source``'s notes."""
    for name, value in applied(source).items():
        note(target, name, value)
