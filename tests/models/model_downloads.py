"""Helpers of the model manager tests: the tiny model's hub id, what the cache holds, a snapshot
put in the cache by another tool, and typed results."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from types import SimpleNamespace

from core.results import parse_result

TINY_ID = "atelier-test/tiny-sd"


def result_of(event: dict, task: str):
    """The typed result (``core.results``) of a ``result`` event of a ``task`` request."""
    return parse_result(task, SimpleNamespace(id=event["id"], files=event["files"],
                                              metadata=event["metadata"], data=event["data"]), None)


def cache_paths(hf_home: Path) -> set[str]:
    """Every path under the cache (and the record beside it), relative to ``hf_home``."""
    if not hf_home.exists():
        return set()
    return {str(path.relative_to(hf_home)) for path in hf_home.rglob("*")}


def put_in_cache(hf_home: Path, model_id: str, folder: Path, revision: str = "") -> str:
    """Put ``folder`` in the cache as a snapshot of ``model_id``, as another tool would (not
    Atelier); returns its revision."""
    revision = revision or hashlib.sha1(f"other:{model_id}".encode()).hexdigest()
    repo = hf_home / "hub" / f"models--{model_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return revision
