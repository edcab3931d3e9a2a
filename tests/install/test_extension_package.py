"""The manifest passes Blender's own validator, the zip builds without development files, and
the built zip installs and works in Blender 5.0 and in 4.2 (the oldest version it claims)."""

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
BPY42_PYTHON = ROOT / ".venv-bpy42" / "bin" / "python"


def _blender_ext(python: Path) -> Path:
    """``bl_pkg/cli/blender_ext.py`` of the bpy wheel installed for ``python``."""
    found = subprocess.run([str(python), "-c", "import importlib.util, os; "
                            "print(os.path.dirname(importlib.util.find_spec('bpy').origin))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    [script] = Path(found).glob("[0-9]*/scripts/addons_core/bl_pkg/cli/blender_ext.py")
    return script


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "atelier.zip"
    subprocess.run([sys.executable, str(_blender_ext(Path(sys.executable))), "build", "--source-dir",
                    str(ROOT), "--output-filepath", str(out)], check=True, capture_output=True)
    return out


def _pythons():
    yield Path(sys.executable)
    if BPY42_PYTHON.exists() or os.environ.get("ATELIER_REQUIRE_BPY42"):
        yield BPY42_PYTHON


@pytest.mark.parametrize("python", list(_pythons()), ids=lambda p: p.parts[-3])
def test_manifest_passes_blenders_validator(python):
    run = subprocess.run([str(python), str(_blender_ext(python)), "validate", str(ROOT)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def _shipped_files(folder: str) -> set[str]:
    """Every file under ``folder`` of the checkout that must reach users (code and data)."""
    return {path.relative_to(ROOT).as_posix() for path in (ROOT / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


def test_zip_holds_the_extension_and_no_development_files(built_zip):
    names = set(zipfile.ZipFile(built_zip).namelist())
    tops = {name.split("/")[0] for name in names}
    assert {"blender_manifest.toml", "__init__.py", "README.md", "client", "operators", "apply",
            "panels", "properties"} <= tops
    # The backend with its schemas and requirements, the built-in engine with its data files,
    # and the bundled wheels: all of each folder.
    for folder in ("backend", "builtin", "wheels"):
        missing = _shipped_files(folder) - names
        assert not missing, f"{folder} files missing from the zip: {sorted(missing)}"
    assert {"core/schemas/scene_idea.json", "builtin/texture_recipes.json",
            "backend/requirements.txt"} <= names
    assert not tops & {"tests", "tools", "bench", ".ci", "pyproject.toml", "requirements-dev.txt",
                       "requirements-demo.txt",
                       "out", "build"}
    assert not [name for name in names if any(part.startswith(".") for part in name.split("/"))]
    assert not [name for name in names if "__pycache__" in name or name.endswith(".zip")]


def _smoke(python: Path, built_zip: Path, tiny_sd_model: Path) -> dict:
    env = dict(os.environ, ATELIER_PYTHON=sys.executable, ATELIER_TEXTURE_MODEL=str(tiny_sd_model),
               ATELIER_DEVICE="cpu")
    run = subprocess.run([str(python), str(HERE / "install_smoke.py"), str(built_zip)],
                         capture_output=True, text=True, env=env, timeout=300)
    lines = [line for line in run.stdout.splitlines() if line.startswith("ATELIER-SMOKE ")]
    assert run.returncode == 0 and lines, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("ATELIER-SMOKE "))


def _check(summary: dict, version: str) -> None:
    assert summary["blender"].startswith(version)
    assert summary["package"] == "bl_ext.user_default.atelier" and summary["registered"]
    assert summary["generate"] == ["FINISHED"]
    assert summary["image_size"] == [64, 64]
    # Names are cut to 63 bytes by Atelier itself, so both versions give the same name.
    assert summary["material"] == " ".join(["weathered"] * 6)
    assert summary["history"] == [summary["material"]]
    assert summary["palette"] == ["FINISHED"] and summary["palette_colors"] == 3
    assert summary["palette_first_hex"] == "#3366cc"  # the base colour comes first
    stored = (0.2, 0.4, 0.8) if version.startswith("4.") else (0.0331, 0.1329, 0.6038)  # display / linear
    assert summary["palette_first_stored"] == pytest.approx(stored, abs=2e-3)
    assert summary["ideas"] == ["FINISHED"] and summary["idea_build"] == ["FINISHED"]
    assert {"CAMERA", "LIGHT", "MESH"} <= set(summary["idea_parts"])
    assert summary["heavy_modules"] == []
    assert summary["left_registered"] == [] and not summary["scene_property_left"]


def test_built_zip_installs_and_generates_in_blender_5(built_zip, tiny_sd_model):
    _check(_smoke(Path(sys.executable), built_zip, tiny_sd_model), "5.0")


@pytest.mark.skipif(not BPY42_PYTHON.exists() and not os.environ.get("ATELIER_REQUIRE_BPY42"),
                    reason="tools/test.sh sets up .venv-bpy42 (bpy 4.2)")
def test_built_zip_installs_and_generates_in_blender_4_2(built_zip, tiny_sd_model):
    _check(_smoke(BPY42_PYTHON, built_zip, tiny_sd_model), "4.2")


def test_blender_process_never_imports_the_model_libraries(tiny_sd_model, tmp_path):
    """Every Blender-side path (generate, history, built-in, undo, panels, cancel, a killed
    backend, free memory, save and reload, doctor) in a fresh process of its own."""
    env = dict(os.environ, ATELIER_PYTHON=sys.executable, ATELIER_TEXTURE_MODEL=str(tiny_sd_model),
               ATELIER_DEVICE="cpu")
    run = subprocess.run([sys.executable, str(HERE / "isolation_tour.py"), str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=300)
    lines = [line for line in run.stdout.splitlines() if line.startswith("ATELIER-TOUR ")]
    assert run.returncode == 0 and lines, run.stdout[-3000:] + run.stderr[-3000:]
    assert json.loads(lines[-1].removeprefix("ATELIER-TOUR ")) == []


def _process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_backend_stops_when_blender_quits(tmp_path):
    """Blender quits without disabling the extension: the backend must not outlive it."""
    env = dict(os.environ, ATELIER_PYTHON=sys.executable)
    run = subprocess.run([sys.executable, str(HERE / "quit_with_backend.py"), str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=120)
    lines = [line for line in run.stdout.splitlines() if line.startswith("ATELIER-BACKEND-PID ")]
    assert run.returncode == 0 and lines, run.stdout[-3000:] + run.stderr[-3000:]
    pid = int(lines[-1].split()[-1])
    deadline = time.monotonic() + 10
    while not _process_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _process_gone(pid), f"backend {pid} still runs after Blender quit"
