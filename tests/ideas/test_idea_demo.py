"""The README's demo, ``bash tools/demo.sh``, with a text model: the random tiny one, whose
answers are schema-valid noise. Its scene idea and colour scheme land (repaired and completed,
not refused) and the demo writes its .blend and render. A random model may write an idea made
only of text or empties: the demo still finds where its block-out stands."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def _demo_script():
    """``tools/demo.py`` as a module (it is a script, not part of the extension)."""
    spec = importlib.util.spec_from_file_location("atelier_demo_script", ROOT / "tools" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("primitive", ["text", "empty"])
def test_the_demo_bounds_an_idea_without_meshes_by_its_other_objects(addon, bpy_module, clean_scene, nook,
                                                                       primitive):
    from mathutils import Vector

    nook["objects"] = [spec for spec in nook["objects"] if spec["primitive"] == primitive]
    built = addon.apply.scene_idea.build_idea(clean_scene, nook)
    low, high = _demo_script()._bounds(bpy_module, built.collection)
    (obj,) = [o for o in built.collection.objects if o.type not in ("CAMERA", "LIGHT")]
    corners = [obj.matrix_world @ Vector(corner) for corner in obj.bound_box]
    for axis in range(3):  # the object alone: the camera and the lights far around it are left out
        assert low[axis] == pytest.approx(min(c[axis] for c in corners), abs=1e-6)
        assert high[axis] == pytest.approx(max(c[axis] for c in corners), abs=1e-6)
    if primitive == "text":
        assert high[0] - low[0] > 0.5  # the letters' extent, not the object's origin alone
    else:
        assert low == pytest.approx(list(obj.location)) and high == low  # an empty: its place
