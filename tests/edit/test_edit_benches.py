"""The edit benchmarks run: the GPU script's CPU smoke mode and the CPU comparison, minimal repeats."""

from __future__ import annotations

import os
import subprocess
import sys

from backend_process import ROOT


def run_bench(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_gpu_edit_smoke_times_every_edit(tmp_path):
    report = tmp_path / "gpu_edit.json"
    out = run_bench("bench/gpu_edit.py", "--smoke", "--models", "sd-turbo", "--warmup", "0", "--repeats", "1",
                    "--json", str(report))
    import json

    entry = json.loads(report.read_text())["models"]["sd-turbo"]
    for edit in ("refine", "inpaint", "upscale"):
        assert entry[edit]["task_ms"] > 0 and entry[edit]["direct_ms"] > 0, entry
        assert f"sd-turbo     {edit}" in out
    # Both x4 upscales ran (on the GPU: 2048 and 4096 px; here 256 and 512 px), each reported.
    for side in (256, 512):
        assert entry[f"upscale_x4_to_{side}"]["task_ms"] > 0, entry
        assert f"sd-turbo     upscale x4 to {side} px: " in out


def test_edit_backend_compares_every_edit(tmp_path):
    report = tmp_path / "edit_backend.json"
    out = run_bench("bench/edit_backend.py", "--repeats", "1", "--json", str(report))
    import json

    edits = json.loads(report.read_text())["edits"]
    assert sorted(edits) == ["inpaint", "refine", "upscale"]
    assert all(row["backend"] > 0 and row["direct"] > 0 and row["ratio"] > 0 for row in edits.values()), edits
    assert "ratio" in out
