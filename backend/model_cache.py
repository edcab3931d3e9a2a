"""Models stay loaded between jobs, keyed by (kind, model, device, dtype, allow_pickle).

One model per kind is kept: asking for a different texture model drops the previous one before
the new one loads, so two large pipelines never sit on the GPU together. It is dropped only once
the new model has been found: a misspelt name fails and leaves the warm model where it was.
``allow_pickle`` is part of the key because it decides whether a folder may load at all: a model
loaded from pickle weights must not answer a request that refuses them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .models import LocatedModel


class ModelCache:
    """Loaded models with the ``LocatedModel`` each came from (for provenance)."""

    def __init__(self) -> None:
        self._entries: dict[tuple, tuple[Any, LocatedModel]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: tuple, locate: Callable[[], LocatedModel],
                    build: Callable[[LocatedModel], Any]) -> tuple[Any, LocatedModel]:
        """The cached entry for ``key``; otherwise locate and build it (key[0] is the kind)."""
        with self._lock:
            if key in self._entries:
                return self._entries[key]
        located = locate()  # raises for a model that is not there, before anything is dropped
        with self._lock:
            stale = [k for k in self._entries if k[0] == key[0]]
        if stale:
            self.drop(stale)
        entry = (build(located), located.settled())
        with self._lock:
            self._entries[key] = entry
        return entry

    def located_any(self, model: str) -> LocatedModel | None:
        """Where the cached ``model`` (of any kind) came from, if it is loaded."""
        with self._lock:
            for key, (_, located) in self._entries.items():
                if key[1] == model:
                    return located
        return None

    def drop(self, keys=None) -> int:
        """Forget the given entries (all when ``keys`` is None); returns how many."""
        with self._lock:
            keys = list(self._entries) if keys is None else keys
            for key in keys:
                self._entries.pop(key, None)
        if keys:
            from .device import free_device_memory

            free_device_memory()
        return len(keys)
