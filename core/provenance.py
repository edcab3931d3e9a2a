"""The one provenance record: how a result was made, whatever made it.

The backend's tasks and Blender's built-in engine both build it here (``build``), so every
result carries the same fields: engine, model and revision, device and dtype, the versions
that can change it, every parameter, and task-specific extras (a seed, a template, attempts).
Blender reads it back from a result or a .blend with ``Provenance.from_dict``, which refuses a
record of the wrong shape with a clear message.
"""

from __future__ import annotations

import datetime
import platform
from dataclasses import dataclass, field
from typing import Any

from . import __version__

SCHEMA = "atelier.provenance/1"
# Extras that describe a result are kept with it; they must be plain JSON values.
_FIELDS = ("schema", "task", "engine", "model", "model_source", "revision", "device", "dtype",
           "versions", "parameters", "created")


class ProvenanceError(ValueError):
    """A provenance record of the wrong shape (from a backend or a .blend)."""


@dataclass
class Provenance:
    """How one result was made (``SCHEMA``). ``extra`` holds the task's own fields."""

    task: str
    engine: str
    model: str
    parameters: dict
    versions: dict
    model_source: str = ""
    revision: str | None = None
    device: str | None = None  # None for a result that ran no model on any device
    dtype: str | None = None
    created: str = ""
    schema: str = SCHEMA
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The record as stored and sent: the fields, then the extras at the top level."""
        record = {name: getattr(self, name) for name in _FIELDS}
        record.update(self.extra)
        return record

    @classmethod
    def from_dict(cls, raw: Any) -> Provenance:
        """The record ``raw`` (a decoded JSON object), or ``ProvenanceError`` saying what is wrong."""
        if not isinstance(raw, dict):
            raise ProvenanceError(f"a provenance record must be an object, got {type(raw).__name__}")
        for name in ("task", "engine", "model"):
            if not isinstance(raw.get(name), str):
                raise ProvenanceError(f"the provenance record's {name!r} must be text")
        for name in ("parameters", "versions"):
            if not isinstance(raw.get(name, {}), dict):
                raise ProvenanceError(f"the provenance record's {name!r} must be an object")
        for name in ("model_source", "revision", "device", "dtype", "created", "schema"):
            if raw.get(name) is not None and not isinstance(raw[name], str):
                raise ProvenanceError(f"the provenance record's {name!r} must be text or null")
        return cls(
            task=raw["task"], engine=raw["engine"], model=raw["model"],
            parameters=dict(raw.get("parameters", {})), versions=dict(raw.get("versions", {})),
            model_source=raw.get("model_source") or raw["model"], revision=raw.get("revision"),
            device=raw.get("device"), dtype=raw.get("dtype"), created=raw.get("created") or "",
            schema=raw.get("schema") or SCHEMA,
            extra={key: value for key, value in raw.items() if key not in _FIELDS},
        )


def build(task: str, engine: str, model: str, parameters: dict, *, versions: dict,
          model_source: str = "", revision: str | None = None, device: str | None = None,
          dtype: str | None = None, **extra: Any) -> dict:
    """The record of one result as a plain dict (what travels and is stored).

    ``versions`` names what can change the result besides the parameters (libraries, Blender);
    Python's and Atelier's versions are added here, so no maker forgets them."""
    return Provenance(
        task=task, engine=engine, model=model, parameters=parameters,
        versions={"python": platform.python_version(), "atelier": __version__, **versions},
        model_source=model_source or model, revision=revision, device=device, dtype=dtype,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), extra=extra,
    ).to_dict()
