"""Shared test setup: offline hub, a private Blender user folder, the extension installed.

``import bpy`` happens once per process and cannot be undone, so the extension is installed
once per session, the way users get it: a local extension repository whose directory holds
a link to this checkout, enabled as ``bl_ext.atelier_dev.atelier``.
"""

import dataclasses
import itertools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from fault_backend import FAULT_OOM_PROMPT
from served_backend import Backend

os.environ["HF_HUB_OFFLINE"] = "1"
# Always a fresh user folder: the tests add an extension repository and write job files there.
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="atelier-blender-user-")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the backend package is imported as ``backend``, as it runs
    sys.path.insert(0, str(ROOT))
REPO_MODULE = "atelier_dev"
ADDON_MODULE = f"bl_ext.{REPO_MODULE}.atelier"


def _settings_in_environment() -> dict:
    return {name: value for name, value in os.environ.items() if name.startswith(("ATELIER_", "HF_"))}


@pytest.fixture(autouse=True)
def environment_left_as_found():
    """Every test leaves Atelier's and the hub's variables as it found them (monkeypatch does);
    one that does not would change the tests after it, so it fails here and is undone."""
    before = _settings_in_environment()
    yield
    after = _settings_in_environment()
    if after != before:
        for name in after.keys() - before.keys():
            del os.environ[name]
        os.environ.update(before)
        changed = sorted(set(after.items()) ^ set(before.items()))
        pytest.fail(f"the test left environment variables changed: {changed}")


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """In-process torch runs on one thread in every test, whatever ran before it: tiny models
    gain nothing from threads on a shared CPU, and no result depends on the order of tests."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def bpy_module():
    """Real Blender as a module (``bpy`` wheel)."""
    import bpy

    return bpy


@pytest.fixture(scope="session")
def addon(bpy_module, tmp_path_factory):
    """The checkout, installed and enabled as an extension; yields its Python package."""
    import addon_utils

    bpy = bpy_module
    repo_dir = tmp_path_factory.mktemp("extensions")
    (repo_dir / "atelier").symlink_to(ROOT, target_is_directory=True)
    bpy.context.preferences.extensions.repos.new(
        name="Atelier dev", module=REPO_MODULE, custom_directory=str(repo_dir), source="USER"
    )
    addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=_raise)
    yield sys.modules[ADDON_MODULE]
    addon_utils.disable(ADDON_MODULE, default_set=True, handle_error=_raise)


def _raise(exc):
    raise exc


@pytest.fixture(scope="session")
def tiny_sd_model(tmp_path_factory) -> Path:
    """A tiny random-weight Stable Diffusion pipeline folder (built in a subprocess, so the
    test process never imports torch or diffusers)."""
    folder = tmp_path_factory.mktemp("models") / "tiny-sd"
    subprocess.run(
        [sys.executable, "-c", "import sys; from backend.doctor_models import build_tiny_sd; "
                               "build_tiny_sd(sys.argv[1])", str(folder)],
        cwd=ROOT, check=True, timeout=300,
    )
    return folder


@pytest.fixture(scope="session")
def backend_env(tiny_sd_model, addon):
    """The real backend (this venv's Python) with the tiny model on the CPU, set through the
    environment overrides users have for headless runs. One backend serves the whole session
    (as in Blender, where it stays warm); it is stopped at the end."""
    # One torch thread in the backend as in this process (``one_torch_thread``): sums split over
    # other thread counts round in another order, and results compared with direct calls must
    # not depend on which test happened to start the backend.
    overrides = {"ATELIER_PYTHON": sys.executable, "ATELIER_TEXTURE_MODEL": str(tiny_sd_model),
                 "ATELIER_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    yield tiny_sd_model
    addon.client.session.shutdown()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory) -> Path:
    """Folder of a tiny random-weight Qwen2 instruct model (built once per test run)."""
    from backend.tiny_text_model import build_tiny_text_model

    return build_tiny_text_model(tmp_path_factory.mktemp("tiny-text-model"))


@pytest.fixture(scope="session")
def model_cache():
    """One backend model cache for in-process task tests, as ``serve`` keeps one."""
    from backend.model_cache import ModelCache

    return ModelCache()


@pytest.fixture
def job_factory(model_cache, tmp_path):
    """``job_factory(RequestClass, **fields) -> (request, JobContext)`` on the CPU, with the
    events the job emits collected in ``job.events``."""
    from backend.task_context import JobContext

    def make(request_class, **fields):
        fields.setdefault("id", f"{request_class.type}-test")
        fields.setdefault("device", "cpu")
        if "output_dir" in {f.name for f in dataclasses.fields(request_class)}:
            fields.setdefault("output_dir", str(tmp_path / "out"))
        request = request_class(**fields)
        events = []
        job = JobContext(request, model_cache, emit=events.append)
        job.events = events
        return request, job

    return make


@pytest.fixture
def canned_answers(monkeypatch):
    """The text model's answers replaced by ``canned_answers(*texts)``, in order; returns the
    conversations it was asked. Loading the model, the grammar and the checks stay real."""
    import copy

    from backend import structured

    asked = []

    def install(*texts):
        queue = list(texts)

        def answer(job, lm, messages, **kwargs):
            asked.append(copy.deepcopy(messages))
            return queue.pop(0), 10

        monkeypatch.setattr(structured, "generate_text", answer)
        return asked

    return install


@pytest.fixture
def generated_texts(monkeypatch):
    """``generated_texts(run)``: every text the real text model writes while ``run()`` runs, in
    order (a spy; generation stays real). A refused answer (``invalid_output``) is an outcome
    like any other; any other error fails the test."""
    from backend import structured
    from core.errors import TaskError

    texts = []
    real = structured.generate_text

    def spy(*args, **kwargs):
        text, tokens = real(*args, **kwargs)
        texts.append(text)
        return text, tokens

    monkeypatch.setattr(structured, "generate_text", spy)

    def texts_during(run):
        texts.clear()
        try:
            run()
        except TaskError as exc:
            assert exc.code == "invalid_output", exc
        assert texts, "the text model wrote nothing"
        return list(texts)

    return texts_during


@pytest.fixture
def job_state(addon, bpy_module):
    """The session's job state (``WindowManager.atelier``) for a test to set as a running job
    would; every field is back to its default afterwards."""
    state = bpy_module.context.window_manager.atelier
    yield state
    for name in state.bl_rna.properties.keys():
        if name != "rna_type":
            state.property_unset(name)


@pytest.fixture
def clean_scene(addon, bpy_module):
    """An empty scene for each test (add-ons stay enabled)."""
    bpy_module.ops.wm.read_homefile(use_empty=True)
    return bpy_module.context.scene


@pytest.fixture
def quick_style(addon):
    """The name of a style in the artist's ``styles.json`` that only sets 2 denoising steps:
    operators with no steps of their own (inpaint, upscale, projection) take them from a style
    (the tiny model's own default is 30)."""
    import json

    path = Path(addon.preferences.styles_file())
    saved = path.read_bytes() if path.exists() else None
    path.write_text(json.dumps({"quick": {"prompt": "{prompt}", "defaults": {"steps": 2}}}))
    yield "quick"
    if saved is None:
        path.unlink()
    else:
        path.write_bytes(saved)


# --------------------------------------------------------------------------- the served backend

# The out-of-memory fault (``fault_backend.py``): this prompt raises OutOfMemoryError at the
# first denoising step of the shared server.
OOM_PROMPT = "trigger the out-of-memory test hook"
_job_ids = itertools.count()


@pytest.fixture(scope="session")
def tiny_sd(tiny_sd_model) -> Path:
    """A tiny SD 1.x-shaped pipeline folder (64 px native), the one the Blender tests use;
    tests that change a model change a copy."""
    return tiny_sd_model


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory) -> Path:
    """A tiny SDXL-shaped pipeline folder (two text encoders, text_time conditioning)."""
    from tiny_pipelines import build_tiny_sdxl

    return build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture(scope="session")
def tiny_flux(tmp_path_factory) -> Path:
    """A tiny FLUX-shaped pipeline folder (CLIP + T5 encoders, flow-matching transformer)."""
    from tiny_pipelines import build_tiny_flux

    return build_tiny_flux(tmp_path_factory.mktemp("models") / "tiny-flux")


@pytest.fixture(scope="session")
def tiny_autoencoder(tmp_path_factory) -> Path:
    """A tiny random-weight AutoencoderTiny folder (TAESD-shaped) for the tiny SD/SDXL models."""
    from tiny_pipelines import build_tiny_autoencoder

    return build_tiny_autoencoder(tmp_path_factory.mktemp("models") / "tiny-autoencoder")


@pytest.fixture(scope="session")
def start_backend(tmp_path_factory):
    """Factory for serve processes; all are closed at the end of the session."""
    log_dir = tmp_path_factory.mktemp("backend-logs")
    started = []

    def start(*args: str, env: dict | None = None, faults: bool = False) -> Backend:
        backend = Backend(log_dir, *args, env=env, faults=faults)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.close()


@pytest.fixture(scope="session")
def oom_prompt() -> str:
    """The prompt that makes the shared server's texture task raise OutOfMemoryError."""
    return OOM_PROMPT


@pytest.fixture(scope="session")
def hub_cache(tmp_path_factory) -> Path:
    """An empty Hugging Face cache folder the shared server uses (tests add snapshots)."""
    return tmp_path_factory.mktemp("hf-cache")


@pytest.fixture(scope="session")
def backend(start_backend, hub_cache) -> Backend:
    """The shared serve process (max size 512, the out-of-memory fault armed for ``OOM_PROMPT``)."""
    server = start_backend("--max-size", "512", faults=True,
                           env={FAULT_OOM_PROMPT: OOM_PROMPT, "HF_HUB_CACHE": str(hub_cache)})
    hello = server.next_event()
    assert hello["type"] == "hello", hello
    return server


@pytest.fixture
def texture_request(tiny_sd, tmp_path):
    """Builds a valid small texture request; keyword arguments override fields."""
    def make(**fields) -> dict:
        request = {"type": "texture", "id": f"job-{next(_job_ids)}", "prompt": "weathered red bricks",
                   "output_dir": str(tmp_path / "out"), "model": str(tiny_sd), "width": 64,
                   "height": 64, "steps": 2, "seed": 7}
        request.update(fields)
        return request

    return make


# --------------------------------------------------------------------------- the Ray Serve backend


@pytest.fixture(scope="session")
def ray_backend(tiny_sd, tiny_text_model, tmp_path_factory):
    """One ``python -m backend ray-serve`` application for the whole session (Ray starts slowly):
    a local Ray on loopback, two CPU worker replicas, the tiny SD model as the default texture
    model, its folder and the tiny text model's as the server's model folders, and a second
    user's token. Yields
    ``ray_server.RayServeProcess`` (``url``, ``token``, ``other_tokens``, ``pid``, ``log()``)."""
    import secrets

    from ray_server import start_ray_serve

    server = start_ray_serve(tmp_path_factory.mktemp("ray-serve"), secrets.token_urlsafe(24),
                             env={"ATELIER_TEXTURE_MODEL": str(tiny_sd), "ATELIER_DEVICE": "cpu"},
                             replicas=2, max_replicas=2,
                             model_dirs=(tiny_sd.parent, tiny_text_model.parent),
                             other_tokens=(secrets.token_urlsafe(24),))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_controlnet(tmp_path_factory) -> Path:
    """A tiny random-weight depth ControlNet folder for the tiny SD pipeline (``tiny_pipelines``)."""
    from tiny_pipelines import build_tiny_controlnet

    return build_tiny_controlnet(tmp_path_factory.mktemp("models") / "tiny-controlnet")


@pytest.fixture(scope="session")
def tiny_marigold(tmp_path_factory) -> Path:
    """A maps model folder: tiny random-weight Marigold pipelines in ``normals/``,
    ``appearance/`` and ``depth/`` (64 px processing, 2 steps), loaded like real weights."""
    from tiny_pipelines import build_tiny_marigold

    return build_tiny_marigold(tmp_path_factory.mktemp("models") / "tiny-marigold")


# --------------------------------------------------------------------------- faults through Blender


@pytest.fixture
def fault_armed_backend(backend_env, addon, monkeypatch, tmp_path):
    """Blender's own backend, started through ``fault_backend.py`` (``fault_points.fault_python``).
    ``arm(point)`` makes the next backend Blender starts stop at ``point`` (``fault_points.POINTS``)
    and returns its pause file for ``fault_points.wait_paused`` / ``resume``. The session's backend
    is stopped before arming and after the test, so no other test meets a faulty one."""
    from fault_backend import FAULT_PAUSE_AT, FAULT_PAUSE_FILE
    from fault_points import fault_python, pause_environment

    session = addon.client.session
    monkeypatch.setenv("ATELIER_PYTHON", fault_python(tmp_path))
    pause_files = itertools.count()

    def arm(point: str) -> Path:
        session.shutdown()
        pause_file = tmp_path / f"pause-{next(pause_files)}"
        for name, value in pause_environment(point, pause_file).items():
            monkeypatch.setenv(name, value)
        return pause_file

    yield arm
    session.shutdown()
    for name in (FAULT_PAUSE_AT, FAULT_PAUSE_FILE):
        monkeypatch.delenv(name, raising=False)
