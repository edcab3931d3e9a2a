"""``atelier.suggest_scene`` end to end: Blender, the real backend process and a text model.

The model is the tiny test model trained to give fixed answers (see ``rehearsed_model``): one
brief gets a good idea, another a layout whose camera looks away. So both outcomes are
certain, not luck, and everything between the model and the scene is real. The random tiny
model (noise under the grammar) shows that any schema-valid answer lands, framed. The command
line prints the same ideas.
"""

import copy
import json
import sys
import time

import pytest
from backend_process import run_backend
from camera_view import unframed
from rehearsed_model import rehearse

from backend.tasks import ideas

GOOD = {
    "schema_version": "atelier.scene_idea/1", "title": "Quiet corner", "pitch": "A chair by a lamp.",
    "mood": "calm", "palette": ["#8a3b2a"],
    "lights": [{"type": "point", "color": "#ffd8a0", "energy": 60, "location": [1, -1, 2],
                "rotation": [0, 0, 0]}],
    "camera": {"lens": 35, "location": [0, -6, 2], "target": [0, 0, 0.5]},
    "world": {"color": "#1a2030", "strength": 0.4},
    "objects": [{"name": "Chair", "primitive": "cube", "location": [0, 0, 0.5], "rotation": [0, 0, 0],
                 "scale": [1, 1, 1], "material": {"color": "#8a3b2a", "roughness": 0.9, "metallic": 0}}],
    "notes": [],
}
LOOKING_AWAY = copy.deepcopy(GOOD)
LOOKING_AWAY["camera"]["target"] = [0, -20, 2]
GOOD_BRIEF = "a quiet corner"
BAD_BRIEF = "a corner seen from the wrong side"


def _answer(idea: dict) -> str:
    return json.dumps({"ideas": [idea]}, separators=(",", ":"))  # compact, as the grammar writes


@pytest.fixture(scope="module")
def rehearsed(tiny_text_model, tmp_path_factory):
    """The trained model's folder (the prompts are those of an empty scene: no context)."""
    chats = [ideas.messages(GOOD_BRIEF, 1, "") + [{"role": "assistant", "content": _answer(GOOD)}],
             ideas.messages(BAD_BRIEF, 1, "") + [{"role": "assistant", "content": _answer(LOOKING_AWAY)}]]
    return rehearse(tiny_text_model, tmp_path_factory.mktemp("rehearsed-text-model"), chats)


@pytest.fixture(scope="module")
def one_backend(addon):
    """One backend process for this module, stopped at its end."""
    addon.client.session.shutdown()
    yield
    addon.client.session.shutdown()


@pytest.fixture
def served(one_backend, rehearsed, monkeypatch):
    """The real backend (this venv's Python) on the CPU, with the trained model as text model."""
    monkeypatch.setenv("ATELIER_PYTHON", sys.executable)
    monkeypatch.setenv("ATELIER_DEVICE", "cpu")
    monkeypatch.setenv("ATELIER_TEXT_MODEL", str(rehearsed))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny models gain nothing from threads
    return rehearsed


def test_a_suggestion_through_the_backend_is_stored_and_builds(bpy_module, addon, clean_scene, served):
    bpy = bpy_module
    assert bpy.ops.atelier.suggest_scene(prompt=GOOD_BRIEF, count=1, seed=0) == {"FINISHED"}
    (item,) = clean_scene.atelier.ideas
    assert json.loads(item.document) == GOOD
    assert (item.title, item.prompt, item.engine) == ("Quiet corner", GOOD_BRIEF, str(served))
    assert bpy.context.window_manager.atelier.last_error == ""

    assert bpy.ops.atelier.apply_scene_idea(index=0) == {"FINISHED"}
    chair = bpy.data.collections["Quiet corner"].objects["Chair"]
    assert tuple(chair.dimensions) == pytest.approx((1, 1, 1))
    assert clean_scene.camera.name == "Quiet corner camera"


def test_a_camera_looking_away_is_repaired_and_the_report_says_so(bpy_module, addon, clean_scene, served,
                                                                    capfd):
    bpy = bpy_module
    assert bpy.ops.atelier.suggest_scene(prompt=BAD_BRIEF, count=1, seed=0) == {"FINISHED"}
    report = capfd.readouterr().out
    assert ("cleaned: idea 1: the camera at (0, -6, 2) looking at (0, -20, 2) did not frame all 1 objects; "
            "it was aimed at the middle of the layout (0, 0, 0.5)") in report
    (item,) = clean_scene.atelier.ideas
    idea = json.loads(item.document)
    assert idea["objects"] == LOOKING_AWAY["objects"]  # the model's own chair, no template's
    assert idea["camera"]["target"] == [0, 0, 0.5]

    assert bpy.ops.atelier.apply_scene_idea(index=0) == {"FINISHED"}
    collection = bpy.data.collections["Quiet corner"]
    assert unframed(bpy, clean_scene, clean_scene.camera, [collection.objects["Chair"]]) == []


@pytest.mark.parametrize("seed", [0, 1])
def test_any_answer_of_a_random_model_lands_and_its_camera_frames_it(bpy_module, addon, clean_scene, served,
                                                                      tiny_text_model, seed):
    """Noise under the grammar: schema-valid, laid out at random. Atelier repairs what it can and
    builds the model's own objects with a camera that frames every one."""
    bpy = bpy_module
    assert bpy.ops.atelier.suggest_scene(prompt="a reading nook", count=1, seed=seed,
                                         model=str(tiny_text_model)) == {"FINISHED"}
    (item,) = clean_scene.atelier.ideas
    idea = json.loads(item.document)
    assert item.engine == str(tiny_text_model)
    assert bpy.ops.atelier.apply_scene_idea(index=0) == {"FINISHED"}
    (collection,) = clean_scene.collection.children
    built = [obj for obj in collection.objects if obj.type not in ("LIGHT", "CAMERA")]
    assert len(built) == len(idea["objects"])
    camera = next(obj for obj in collection.objects if obj.type == "CAMERA")
    assert clean_scene.camera == camera
    assert unframed(bpy, clean_scene, camera, built) == []


def _drain_until(jobs, client, job, done, what: str) -> None:
    deadline = time.monotonic() + 120
    while not done():
        assert time.monotonic() < deadline, f"{what}: stuck at {job.stage}"
        jobs.drain(client)
        time.sleep(0.02)


def test_the_async_path_shows_progress_cancels_and_serves_on(addon, clean_scene, served, tiny_text_model):
    """What the modal timer does: drain events, show progress, Esc cancels; then the next job."""
    jobs, protocol = addon.client.session, addon.core.protocol
    client = jobs.client_for(addon.preferences.backend_config(jobs.EXTENSION_DIR))

    def request(prompt, model):
        return protocol.IdeasRequest(id=jobs.new_request_id(), prompt=prompt, count=1, model=str(model),
                                     device="cpu", seed=0)

    # The random model writes long answers under the full grammar: time to watch and cancel.
    job = jobs.submit(client, request("a reading nook", tiny_text_model), label="ideas")
    _drain_until(jobs, client, job, lambda: job.stage == "writing ideas" and job.step > 0, "progress")
    assert 0 < job.fraction < 1 and not job.done
    assert job.total == 9  # sections of one idea (title ... notes), not tokens of the budget
    jobs.cancel(client, job)
    _drain_until(jobs, client, job, lambda: job.done, "cancel")
    assert job.cancelled and job.result is None

    job = jobs.submit(client, request(GOOD_BRIEF, served), label="ideas")
    _drain_until(jobs, client, job, lambda: job.done, "the next job")
    assert job.error is None, job.error
    assert job.result.ideas == (GOOD,) and job.result.repairs == ()
    assert job.result.provenance.extra["schema_version"] == "atelier.scene_idea/1"
    addon.apply.scene_idea.store_ideas(clean_scene, list(job.result.ideas), prompt=GOOD_BRIEF, engine="m")
    assert json.loads(clean_scene.atelier.ideas[0].document) == GOOD


def test_the_cli_prints_the_ideas_as_json(rehearsed):
    done = run_backend("ideas", GOOD_BRIEF, "--count", "1", "--model", str(rehearsed), "--device", "cpu",
                       "--seed", "0")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["data"] == {"ideas": [GOOD], "repairs": []}
    assert printed["metadata"]["attempts"] == 1
