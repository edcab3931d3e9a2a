"""The soak run at CI size (``bench/soak.py``): after 50 warm-up jobs, 100 more through one
served backend and 50 operator calls through Blender, with their results deleted by name and
nothing purged. Memory may grow by at most 20 MB after the warm-up; open files, threads and
Blender's datablocks must be exactly where they were after it, each process must still be the
same one (the same pid: a backend replaced mid-run would start afresh), and no job may leave a
file behind.

Each part runs as its own process, as the bench runs it: Blender's figures are those of a
process that imported ``bpy`` for the soak alone, with Atelier installed in a private user folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WARMUP, SERVED_JOBS, BLENDER_CALLS = 50, 100, 50
RSS_GROWTH_MB = 20


def soak(tmp_path: Path, *args: str) -> dict:
    """``bench/soak.py`` with ``args``; the figures it writes."""
    figures = tmp_path / "soak.json"
    done = subprocess.run([sys.executable, "bench/soak.py", "--warmup", str(WARMUP), *args,
                           "--json", str(figures)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(figures.read_text())


def assert_steady(part: dict, process: str) -> None:
    """The process read at the end is the one read after the warm-up (its pid); its memory
    grew by at most ``RSS_GROWTH_MB`` since then; its open files and threads are exactly as many."""
    before, after = part[process]["after_warmup"], part[process]["end"]
    assert after["pid"] == before["pid"], f"{process} was replaced during the run: {before} -> {after}"
    assert after["rss_mb"] - before["rss_mb"] <= RSS_GROWTH_MB, (process, before, after)
    assert (after["fds"], after["threads"]) == (before["fds"], before["threads"]), (process, before, after)


@pytest.fixture(scope="module")
def models(tiny_sd, tiny_controlnet) -> list[str]:
    return ["--model", str(tiny_sd), "--control-model", str(tiny_controlnet)]


def test_served_backend_holds_steady(models, tmp_path):
    part = soak(tmp_path, "--only", "served", "--served", str(SERVED_JOBS), *models)["served"]
    assert part["jobs"] == SERVED_JOBS
    assert_steady(part, "backend")
    assert part["files_left"] == []


def test_blender_holds_steady(models, tmp_path):
    part = soak(tmp_path, "--only", "blender", "--blender", str(BLENDER_CALLS), *models)["blender"]
    assert part["jobs"] == BLENDER_CALLS
    assert_steady(part, "blender")
    assert_steady(part, "backend")
    assert part["datablocks"]["end"] == part["datablocks"]["after_warmup"]
    assert part["files_left"] == []
