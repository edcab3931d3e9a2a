"""The click-to-material profile runs and reports every stage of both paths (minimal repeats)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from backend_process import ROOT

GENERATE = ("text encoder", "denoiser (1 step)", "VAE decode (full)", "PNG encode+write (level 1, Atelier)",
            "hand-over (result line + parse)", "Blender: PNG load + pack (images.load)",
            "Blender: new material + assign")
PREVIEW = ("text encoder", "denoiser (1 step)", "VAE decode (tiny)", "raw RGBA write",
           "hand-over (result line + parse)", "Blender: raw read (numpy, rows flipped)",
           "Blender: foreach_set + material (preview)")


def test_the_profile_times_every_stage_from_click_to_material(tmp_path):
    report = tmp_path / "profile.json"
    done = subprocess.run([sys.executable, "bench/profile_texture.py", "--size", "64", "--repeats", "1",
                           "--warmup", "0", "--json", str(report)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    paths = json.loads(report.read_text())["paths"]
    for kind, stages in (("generate", GENERATE), ("preview", PREVIEW)):
        assert all(paths[kind][stage] > 0 for stage in stages), paths[kind]
        assert f"{kind}: click to material" in done.stdout
    levels = json.loads(report.read_text())["png_levels"]
    assert {(row["size"], row["image"]) for row in levels} == {(s, i) for s in (512, 1024)
                                                               for i in ("noise", "smooth")}
