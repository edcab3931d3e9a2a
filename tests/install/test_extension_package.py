"""The manifest passes Blender's own validator, the zip builds without development files, and
the built zip installs and works in every Blender tested: 4.2 (the oldest the manifest claims),
4.5 LTS, 5.0 (the main test environment) and 5.3 (Python 3.13)."""

import json
import os
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
# Blender version -> the Python that has it as the bpy module; tools/test.sh sets each one up.
BLENDER_PYTHONS = {
    "4.2": ROOT / ".venv-bpy42" / "bin" / "python",
    "4.5": ROOT / ".venv-bpy45" / "bin" / "python",
    "5.0": Path(sys.executable),
    "5.3": ROOT / ".venv-bpy53" / "bin" / "python",
}
SMOKE_TIMEOUT = 120  # seconds; a Blender that hangs at exit (a timer left behind) runs into it


def _set_up_by(version: str) -> str:
    return f"Blender {version} is not set up: tools/test.sh makes {BLENDER_PYTHONS[version].parents[1].name}"


# Each version, skipped when its environment is missing, unless tools/test.sh runs the tests
# (ATELIER_REQUIRE_ALL_BLENDERS=1): there a missing one fails.
_REQUIRED = bool(os.environ.get("ATELIER_REQUIRE_ALL_BLENDERS"))
BLENDER_VERSIONS = [
    pytest.param(version, marks=pytest.mark.skipif(not (_REQUIRED or python.exists()),
                                                   reason=_set_up_by(version)))
    for version, python in BLENDER_PYTHONS.items()
]


def _blender_python(version: str) -> Path:
    """The Python that has Blender ``version`` as its bpy module."""
    python = BLENDER_PYTHONS[version]
    assert python.exists(), _set_up_by(version)
    return python


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


@pytest.mark.parametrize("version", BLENDER_VERSIONS)
def test_manifest_passes_blenders_validator(version):
    python = _blender_python(version)
    run = subprocess.run([str(python), str(_blender_ext(python)), "validate", str(ROOT)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_manifest_claims_the_oldest_blender_tested():
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))
    claimed = manifest["blender_version_min"]
    oldest = min(BLENDER_PYTHONS, key=lambda version: tuple(map(int, version.split("."))))
    assert claimed == f"{oldest}.0", "blender_version_min must be the oldest Blender the tests run"


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


def _decoded(output) -> str:
    """A subprocess's output as text (a timeout hands it over as bytes)."""
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def _smoke(python: Path, built_zip: Path, tiny_sd_model: Path) -> dict:
    env = dict(os.environ, ATELIER_PYTHON=sys.executable, ATELIER_TEXTURE_MODEL=str(tiny_sd_model),
               ATELIER_DEVICE="cpu")
    try:
        run = subprocess.run([str(python), str(HERE / "install_smoke.py"), str(built_zip)],
                             capture_output=True, text=True, env=env, timeout=SMOKE_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        output = _decoded(exc.stdout)[-3000:] + _decoded(exc.stderr)[-3000:]
        pytest.fail(f"Blender did not finish within {SMOKE_TIMEOUT} s (bpy 4.5 hangs at exit while "
                    f"a timer is still registered):\n{output}")
    lines = [line for line in run.stdout.splitlines() if line.startswith("ATELIER-SMOKE ")]
    # A non-zero code after the summary is a crash at exit (bpy 4.2 with a timer left behind).
    assert run.returncode == 0 and lines, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("ATELIER-SMOKE "))


@pytest.mark.parametrize("version", BLENDER_VERSIONS)
def test_built_zip_installs_and_works_in_every_blender(version, built_zip, tiny_sd_model):
    """Install from the zip, register, a texture and its colour scheme through the backend, its
    classic maps and their DirectX export, the built-in engine (a texture, a palette, an idea
    suggested and built), unregister, exit: in each Blender."""
    summary = _smoke(_blender_python(version), built_zip, tiny_sd_model)
    assert summary["blender"].startswith(version)
    # Blender 5.1 and newer run Python 3.13: the Blender side is checked on both Pythons.
    assert summary["python"] == ([3, 13] if version == "5.3" else [3, 11])
    assert summary["package"] == "bl_ext.user_default.atelier" and summary["registered"]
    assert summary["import_errors"] == {}
    assert summary["generate"] == ["FINISHED"]
    assert summary["image_size"] == [64, 64]
    # Names are cut to 63 bytes by Atelier itself, so every version gives the same name.
    assert summary["material"] == " ".join(["weathered"] * 6)
    assert summary["history"] == [summary["material"]]
    # The texture's colours as a scheme, by the backend process (the built-in engine has no k-means).
    assert summary["image_palette"] == ["FINISHED"] and summary["image_palette_colors"] == 4
    assert summary["image_palette_engine"] == "colors.extract"
    # Classic maps on that texture, inside Blender, and its maps exported for DirectX.
    assert summary["derive_maps"] == ["FINISHED"] and summary["maps_engine"] == "classic"
    assert summary["export"] == ["FINISHED"]
    exported = {name.rsplit("_", 1)[-1] for name in summary["exported"]}
    assert {"normal.png", "height.png"} <= exported, summary["exported"]
    assert summary["builtin_generate"] == ["FINISHED"]
    assert summary["builtin_material"] == "Brick (built-in)"
    assert {"TEX_BRICK", "BSDF_PRINCIPLED"} <= set(summary["builtin_node_types"])
    assert summary["palette"] == ["FINISHED"] and summary["palette_colors"] == 3
    assert summary["palette_first_hex"] == "#3366cc"  # the base colour comes first
    stored = (0.2, 0.4, 0.8) if version.startswith("4.") else (0.0331, 0.1329, 0.6038)  # display / linear
    assert summary["palette_first_stored"] == pytest.approx(stored, abs=2e-3)
    assert summary["ideas"] == ["FINISHED"] and summary["idea_build"] == ["FINISHED"]
    assert {"CAMERA", "LIGHT", "MESH"} <= set(summary["idea_parts"])
    assert summary["heavy_modules"] == []
    # Each kind of class is seen while registered, so "none left" below covers every kind.
    assert {"ATELIER_OT_generate_texture", "ATELIER_PT_main", "AtelierSceneSettings", "TextureSettings",
            "AtelierPreferences"} <= set(summary["classes_registered"])
    assert summary["left_registered"] == [] and summary["handlers_left"] == {}
    assert summary["properties_left"] == []


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
