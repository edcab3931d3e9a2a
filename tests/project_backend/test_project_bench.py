"""The projection GPU benchmark runs: its CPU mode with tiny models, minimal repeats."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from backend_process import ROOT


def test_gpu_project_tiny_times_every_view_count(tmp_path):
    report = tmp_path / "gpu_project.json"
    command = [sys.executable, "bench/gpu_project.py", "--tiny", "--models", "sd-turbo", "--warmup", "0",
               "--repeats", "1", "--json", str(report), "--blender-ms", "4=850"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    entry = json.loads(report.read_text())["models"]["sd-turbo"]
    for view in ("first_view", "later_view"):
        assert entry[view]["task_ms"] > 0 and entry[view]["direct_ms"] > 0, entry
    for count in (1, 4, 8):
        assert entry[f"views_{count}"]["task_ms"] > 0, entry
        assert f"sd-turbo     {count:5d} " in done.stdout
    generation = entry["views_4"]["task_ms"]
    assert entry["views_4"]["button_to_material_ms"] == round(generation + 850, 1)
    line = f"button to material, sd-turbo 4 views: generation {generation:.0f} ms + Blender 850 ms"
    assert line in done.stdout
