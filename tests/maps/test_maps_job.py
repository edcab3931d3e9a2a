"""A Marigold maps job, run in this process: progress per denoising step, cancel between steps,
out of memory reported as such, models kept warm, the maps model setting honoured."""

from __future__ import annotations

import threading

import pytest
import torch
from tiny_pipelines import TINY_MARIGOLD_STEPS

from backend import maps_marigold
from backend.model_cache import ModelCache
from backend.task_context import JobContext
from backend.tasks import maps
from core import protocol
from core.errors import TaskError


@pytest.fixture
def start(tiny_marigold, texture_png, tmp_path):
    """``start(cache, on_progress=None, **fields) -> (request, job, events)`` on the CPU."""
    def make(cache: ModelCache, on_progress=None, **fields):
        fields = {"id": "maps-job", "image": str(texture_png), "output_dir": str(tmp_path / "out"),
                  "model": str(tiny_marigold), "device": "cpu", "seed": 1, **fields}
        request = protocol.MapsRequest(**fields)
        events = []
        cancel = threading.Event()

        def emit(event):
            events.append(event)
            if on_progress and isinstance(event, protocol.ProgressEvent):
                on_progress(event, cancel)

        return request, JobContext(request, cache, emit, cancel), events

    return make


def test_progress_counts_the_denoising_steps_of_each_model(start):
    request, job, events = start(ModelCache())
    maps.run(request, job)
    progress = [(e.step, e.total, e.stage) for e in events if isinstance(e, protocol.ProgressEvent)]
    stages = [stage for stage in ("normals", "appearance", "depth") for _ in range(TINY_MARIGOLD_STEPS)]
    steps = [(index + 1, len(stages), stage) for index, stage in enumerate(stages)]
    assert progress == [(0, 3, "loading the maps models"), *steps]


def test_a_cancel_stops_the_job_at_the_next_step(start, tmp_path):
    def cancel_at_first_step(event, cancel):
        if event.stage == "normals":
            cancel.set()

    request, job, events = start(ModelCache(), cancel_at_first_step)
    with pytest.raises(TaskError) as caught:
        maps.run(request, job)
    assert caught.value.code == "cancelled"
    stages = [e.stage for e in events if isinstance(e, protocol.ProgressEvent)]
    assert stages == ["loading the maps models", "normals"]  # stopped at once, nothing after
    assert not list(tmp_path.rglob("*.png"))  # no map was written


def test_running_out_of_memory_is_reported_with_what_to_change(start):
    def out_of_memory(event, cancel):
        if event.stage == "appearance":
            raise torch.OutOfMemoryError("simulated: CUDA out of memory")

    request, job, _ = start(ModelCache(), out_of_memory)
    with pytest.raises(TaskError) as caught:
        maps.run(request, job)
    assert caught.value.code == "out_of_memory"
    assert "predicting appearance for a 96x64 image" in caught.value.message
    assert "smaller size" in caught.value.hint and "cpu" in caught.value.hint


def test_models_stay_warm_and_come_back_as_loaded(start, monkeypatch):
    loaded = []
    real = maps_marigold.load_part

    def counting(part, located, device, dtype):
        loaded.append(real(part, located, device, dtype))
        return loaded[-1]

    monkeypatch.setattr(maps_marigold, "load_part", counting)
    cache = ModelCache()
    first = maps.run(*start(cache, maps=["normal", "height"])[:2])
    second = maps.run(*start(cache, maps=["normal", "height"], id="again")[:2])
    assert [part.pipe.__class__.__name__ for part in loaded] == ["MarigoldNormalsPipeline",
                                                               "MarigoldDepthPipeline"]  # once each
    assert [f.role for f in first.files] == [f.role for f in second.files] == ["normal", "height"]
    for part in loaded:
        assert "step" not in vars(part.pipe.scheduler)  # the progress hook went with the job


def test_the_environment_names_the_maps_model_when_the_request_does_not(start, monkeypatch):
    monkeypatch.setenv("ATELIER_MAPS_MODEL", "classic")
    request, job, _ = start(ModelCache(), model="", maps=["ao"])
    output = maps.run(request, job)
    assert output.metadata["engine"] == "classic" and output.metadata["model"] == "classic"


def test_a_folder_of_16_bit_weights_loads(start, tiny_marigold, tmp_path):
    """A model kept only as ``*.fp16.safetensors`` (as some hub repositories are) loads too."""
    import shutil

    from diffusers import MarigoldNormalsPipeline

    half = shutil.copytree(tiny_marigold, tmp_path / "half")
    shutil.rmtree(half / "normals")
    pipe = MarigoldNormalsPipeline.from_pretrained(str(tiny_marigold / "normals"), use_safetensors=True)
    pipe.save_pretrained(half / "normals", safe_serialization=True, variant="fp16")
    assert not list((half / "normals").rglob("diffusion_pytorch_model.safetensors"))
    request, job, _ = start(ModelCache(), model=str(half), maps=["normal"])
    assert [file.role for file in maps.run(request, job).files] == ["normal"]
