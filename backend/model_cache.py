"""Models stay loaded between jobs, keyed by (kind, model, device, dtype, allow_pickle).

One model per kind is kept: asking for a different texture model drops the previous one before
the new one loads, so two large pipelines never sit on the GPU together. It is dropped only once
the new model has been found: a misspelt name fails and leaves the warm model where it was.
``allow_pickle`` is part of the key because it decides whether a folder may load at all: a model
loaded from pickle weights must not answer a request that refuses them.

A warm model answers only while its files are as they were when it loaded (``model_files``):
a folder deleted, or a weights file replaced or cut short, since then drops the entry, and the
model is found and loaded again from what is there now, so the job fails with ``model_missing``
or ``model_invalid`` naming the folder or file instead of running on weights that are gone. A
hub id whose newer revision was downloaded meanwhile is loaded again from the new snapshot.

A dropped model's compiled code goes with it (``torch_compile.release``): dynamo would otherwise
keep its graphs, and on CUDA their CUDA graph memory pools, for the life of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .model_files import check_weights, fingerprint
from .models import LocatedModel


@dataclass(frozen=True)
class _Entry:
    """A loaded model, where it came from, and its files' fingerprint when it loaded."""

    built: Any
    located: LocatedModel
    files: tuple | None


class ModelCache:
    """Loaded models with the ``LocatedModel`` each came from (for provenance)."""

    def __init__(self) -> None:
        self._entries: dict[tuple, _Entry] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: tuple, locate: Callable[[], LocatedModel],
                    build: Callable[[LocatedModel], Any]) -> tuple[Any, LocatedModel]:
        """The cached entry for ``key`` while its files are unchanged; otherwise locate, check
        and build it (key[0] is the kind, key[1] the model's name)."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None:
            if fingerprint(entry.located) == entry.files:  # a few stat calls
                return entry.built, entry.located
            self.drop([key])  # its files changed: what is loaded is no longer what is there
        located = locate()  # raises for a model that is not there, before anything is dropped
        check_weights(located, key[1])  # a damaged file is named here, not deep in a library
        with self._lock:
            stale = [k for k in self._entries if k[0] == key[0]]
        if stale:
            self.drop(stale)
        files = fingerprint(located)  # before loading: a change while it loads shows next time
        built = build(located)
        settled = located.settled()
        entry = _Entry(built, settled, files if files is not None else fingerprint(settled))
        with self._lock:
            self._entries[key] = entry
        return entry.built, entry.located

    def located_any(self, model: str) -> LocatedModel | None:
        """Where the cached ``model`` (of any kind) came from, if it is loaded."""
        with self._lock:
            for key, entry in self._entries.items():
                if key[1] == model:
                    return entry.located
        return None

    def drop(self, keys=None) -> int:
        """Forget the given entries (all when ``keys`` is None); returns how many."""
        with self._lock:
            keys = list(self._entries) if keys is None else keys
            dropped = [self._entries.pop(key, None) for key in keys]
        if keys:
            from .device import free_device_memory
            from .torch_compile import release

            release([entry.built for entry in dropped if entry is not None])
            del dropped
            free_device_memory()
        return len(keys)
