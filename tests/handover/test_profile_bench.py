"""The click-to-material profile runs and reports every stage of its three paths (minimal
repeats): the UI's generate path with the early hand-over, and after its material is shown the
PNG off the critical path; the blocking path's PNG hand-over; the preview."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from backend_process import ROOT

MODEL = ("text encoder", "denoiser (1 step)")
GENERATE = (*MODEL, "VAE decode (full)", "raw RGBA write", "hand-over (image line + parse)",
            "Blender: raw read (numpy, rows flipped)", "Blender: new Image + foreach_set + material (early)")
AFTER_MATERIAL = ("PNG encode+write (Atelier's level)", "hand-over (result line + parse)",
                  "Blender: PNG load + pack + swap (finish_early)")
BLOCKING = (*MODEL, "VAE decode (full)", "PNG encode+write (Atelier's level)",
            "hand-over (result line + parse)", "Blender: PNG load + pack (images.load)",
            "Blender: new material + assign")
PREVIEW = (*MODEL, "VAE decode (tiny)", "raw RGBA write", "hand-over (result line + parse)",
           "Blender: raw read (numpy, rows flipped)", "Blender: foreach_set + material (preview)")


def test_the_profile_times_every_stage_from_click_to_material(tmp_path):
    report = tmp_path / "profile.json"
    done = subprocess.run([sys.executable, "bench/profile_texture.py", "--size", "64", "--repeats", "1",
                           "--warmup", "0", "--json", str(report)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(report.read_text())
    paths = figures["paths"]
    for kind, stages in (("generate", GENERATE), ("generate, blender -b", BLOCKING), ("preview", PREVIEW)):
        assert all(paths[kind][stage] > 0 for stage in stages), paths[kind]
        assert f"{kind}: click to material" in done.stdout
    # The UI's material waits for no PNG: its writing, loading and packing come after.
    assert not [stage for stage in paths["generate"] if "PNG" in stage or "result" in stage]
    after = figures["generate_after_material"]
    assert all(after[stage] > 0 for stage in AFTER_MATERIAL), after
    assert "generate: after the material is shown (off the critical path)" in done.stdout
    levels = figures["png_levels"]
    assert {(row["size"], row["image"]) for row in levels} == {(s, i) for s in (512, 1024)
                                                               for i in ("noise", "smooth")}
