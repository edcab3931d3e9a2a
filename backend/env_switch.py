"""On/off settings read from the backend's environment, all spelt alike.

``ATELIER_FAST`` (which also takes ``auto``), ``ATELIER_COMPILE``, ``ATELIER_LOW_VRAM`` and
``ATELIER_CPU_OFFLOAD`` accept the same words in any case, with spaces around them ignored:
1, on, true, yes for on; 0, off, false, no for off. Unset or blank is the setting's default.
Anything else is a ``bad_request`` naming the variable and the words it takes.
"""

from __future__ import annotations

import os

from core.errors import TaskError
from core.schema import short  # a value echoed in a message: at most 40 characters

ON_WORDS = ("1", "on", "true", "yes")
OFF_WORDS = ("0", "off", "false", "no")


def setting(name: str, default: str = "off", others: tuple[str, ...] = ()) -> str:
    """``name`` from the environment as 'on', 'off' or one of ``others`` (e.g. 'auto');
    ``default`` when unset or blank."""
    raw = os.environ.get(name, "").strip()
    value = raw.lower()
    if not value:
        return default
    if value in ON_WORDS:
        return "on"
    if value in OFF_WORDS:
        return "off"
    if value in others:
        return value
    words = (*others, "on", "off")
    raise TaskError("bad_request", f"{name}={short(raw)} is not a setting Atelier knows "
                    f"(it takes {', '.join(words)}; 1/0, true/false and yes/no work too)",
                    hint=f"set {name} to {' or '.join(words)} (or unset it) where the backend starts, "
                         "and restart it")


def switch(name: str, default: bool = False) -> bool:
    """Whether the on/off setting ``name`` is on (``default`` when unset or blank)."""
    return setting(name, "on" if default else "off") == "on"
