"""The README's demo, ``bash tools/demo.sh``, with a text model: the random tiny one, whose
answers are schema-valid noise. Its scene idea and colour scheme land (repaired and completed,
not refused) and the demo writes its .blend and render."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_completes_with_a_random_text_model(tmp_path, tiny_text_model):
    env = dict(os.environ, ATELIER_PYTHON=sys.executable, HF_HUB_OFFLINE="1",
               ATELIER_TEXT_MODEL=str(tiny_text_model), ATELIER_TEXTURE_MODEL="builtin")
    env.pop("BLENDER_USER_RESOURCES", None)
    run = subprocess.run(["bash", str(ROOT / "tools" / "demo.sh"), "--out", str(tmp_path), "--size", "64",
                          "--samples", "2", "--prompt", "a wet brick alley at night"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"by engine {tiny_text_model}" in run.stdout  # the model's own block-out, no template
    assert "colour scheme applied to the block-out by engine transformers" in run.stdout
    assert "did not frame all" in run.stdout  # its camera needed aiming, and got it
    assert (tmp_path / "demo.blend").stat().st_size > 0 and (tmp_path / "demo.png").stat().st_size > 0
