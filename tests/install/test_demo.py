"""The README's demo command, ``bash tools/demo.sh``, in its own process (it sets up .venv,
which the test run already made, so its install step finds everything in place)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image  # pillow: reads the rendered PNG

from core.families import DEFAULT_TEXTURE_MODEL

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--size", "96", "--samples", "4", "--texture-size", "64", "--steps", "1"]


def _demo(tmp_path, model=None, *options):
    """``bash tools/demo.sh`` as a user runs it: ``model`` None leaves the engine to its default."""
    env = dict(os.environ, ATELIER_PYTHON=sys.executable, HF_HUB_OFFLINE="1")
    for name in ("BLENDER_USER_RESOURCES", "ATELIER_TEXTURE_MODEL", "ATELIER_TEXT_MODEL"):
        env.pop(name, None)
    if model is not None:
        env["ATELIER_TEXTURE_MODEL"] = str(model)
    return subprocess.run(["bash", str(ROOT / "tools" / "demo.sh"), "--out", str(tmp_path), *SMALL, *options],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("engine, prompt", [
    ("builtin", "weathered red brick wall"),
    # An alley is 26 m deep: the block-out must go behind the demo's camera, not around it.
    ("builtin", "a wet brick alley at night"),
    ("tiny diffusion model", "weathered red brick wall"),
])
def test_demo_writes_a_blend_and_a_render(tmp_path, tiny_sd_model, engine, prompt):
    run = _demo(tmp_path, None if engine == "builtin" else tiny_sd_model, "--prompt", prompt)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert (tmp_path / "demo.blend").stat().st_size > 0
    with Image.open(tmp_path / "demo.png") as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert pixels.shape == (96, 96, 3) and pixels.std() > 5  # a picture, not a flat fill
    expected_engine = "builtin" if engine == "builtin" else "diffusers"
    assert f"by engine {expected_engine}" in run.stdout


def test_demo_without_weights_names_what_to_configure(tmp_path):
    run = _demo(tmp_path, f"{DEFAULT_TEXTURE_MODEL}-not-downloaded")
    assert run.returncode == 1
    assert "Traceback" not in run.stderr + run.stdout
    assert "ATELIER_TEXTURE_MODEL" in run.stderr and "model='builtin'" in run.stderr
    assert not (tmp_path / "demo.png").exists()
