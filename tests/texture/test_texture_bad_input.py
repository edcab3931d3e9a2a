"""(d) Every bad input gets an error event with code, message and hint; the next job works."""

from __future__ import annotations

import json
import shutil

import pytest
from fault_backend import FAULT_UNPRIVILEGED
from safetensors.torch import load_file

BAD_FIELDS = {
    "empty prompt": ({"prompt": "   "}, "bad_request"),
    "width not a multiple of 8": ({"width": 100}, "bad_request"),
    "height not a multiple of 8": ({"height": 65}, "bad_request"),
    "size above the server's limit": ({"width": 1024}, "bad_request"),
    "size below the minimum": ({"width": 8}, "bad_request"),
    "steps zero": ({"steps": 0}, "bad_request"),
    "steps negative": ({"steps": -3}, "bad_request"),
    "steps above the limit": ({"steps": 151}, "bad_request"),
    "negative guidance": ({"guidance": -1.0}, "bad_request"),
    "seed out of range": ({"seed": 2**31}, "bad_request"),
    "unknown seamless mode": ({"seamless": "z"}, "bad_request"),
    "width as a string": ({"width": "64"}, "bad_request"),
    "prompt as a number": ({"prompt": 5}, "bad_request"),
    "seed as a float": ({"seed": 1.5}, "bad_request"),
    "steps as a boolean": ({"steps": True}, "bad_request"),
    "allow_network as a string": ({"allow_network": "yes"}, "bad_request"),
    "unknown field": ({"colour": "red"}, "bad_request"),
    "unknown device": ({"device": "tpu"}, "bad_request"),
    "cuda on a machine without one": ({"device": "cuda"}, "bad_request"),
    "relative output folder": ({"output_dir": "relative/out"}, "bad_request"),
    "unknown hub model": ({"model": "nobody-here/no-such-model"}, "model_missing"),
    "missing model folder": ({"model": "/no/such/model/folder"}, "model_missing"),
}


def assert_error_then_recovery(backend, texture_request, bad: dict, code: str) -> dict:
    final = backend.request(texture_request(**bad))
    assert final["type"] == "error", final
    assert final["code"] == code, final
    assert final["message"] and final["hint"], final
    assert backend.request(texture_request())["type"] == "result"
    return final


@pytest.mark.parametrize("name", list(BAD_FIELDS))
def test_bad_field(backend, texture_request, name):
    bad, code = BAD_FIELDS[name]
    final = assert_error_then_recovery(backend, texture_request, bad, code)
    if name == "unknown hub model":
        assert "nobody-here/no-such-model" in final["message"] and "hf download" in final["hint"]
    if name == "size above the server's limit":
        assert "512" in final["message"]


def test_out_of_memory_is_reported_and_survived(backend, texture_request, oom_prompt):
    final = assert_error_then_recovery(backend, texture_request, {"prompt": oom_prompt}, "out_of_memory")
    assert "smaller size" in final["hint"] and "CPU offload" in final["hint"]


def test_out_of_memory_while_loading_is_reported(tiny_sd, tmp_path, monkeypatch):
    """A model too large for the GPU fails as it moves there; same report, nothing half cached."""
    import torch

    from backend.model_cache import ModelCache
    from backend.task_context import JobContext
    from backend.tasks import texture
    from core import protocol
    from core.errors import TaskError

    def too_large(located, device, dtype):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")

    monkeypatch.setattr(texture, "load_pipeline", too_large)
    cache = ModelCache()
    request = protocol.TextureRequest(id="oom-load", prompt="bricks", output_dir=str(tmp_path),
                                      model=str(tiny_sd), device="cpu")
    with pytest.raises(TaskError) as caught:
        texture.run(request, JobContext(request, cache))
    assert caught.value.code == "out_of_memory" and f"loading {tiny_sd}" in caught.value.message
    assert "smaller size" in caught.value.hint and "CPU offload" in caught.value.hint
    assert cache.located_any(str(tiny_sd)) is None


@pytest.mark.parametrize("output_dir, says", [
    ("", "output_dir is empty"),
    ("relative/out", "output_dir 'relative/out' is not an absolute path"),
    ("{file}/out", "cannot create output_dir"),  # a file stands where a folder must go
])
def test_an_unusable_output_dir_is_refused_before_the_model_loads(job_factory, tmp_path, output_dir, says):
    """The model named does not exist, so only a check made before loading can report the folder."""
    from backend.tasks import texture
    from core import protocol
    from core.errors import TaskError

    (tmp_path / "a-file").write_text("")
    request, job = job_factory(protocol.TextureRequest, prompt="bricks", model=str(tmp_path / "no-model"),
                               output_dir=output_dir.format(file=tmp_path / "a-file"))
    with pytest.raises(TaskError) as caught:
        texture.run(request, job)
    assert caught.value.code == "bad_request" and says in caught.value.message, caught.value
    assert caught.value.hint and job.events == []


def test_a_read_only_output_dir_is_refused_before_the_model_loads(start_backend, texture_request, tmp_path):
    """A backend without root's power to ignore permissions, so a read-only folder is one under
    root (CI) too; the model does not exist, so only the folder's check can give this answer."""
    server = start_backend(env={FAULT_UNPRIVILEGED: "1"}, faults=True)
    assert server.next_event()["type"] == "hello"
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    refused = texture_request(output_dir=str(locked), model=str(tmp_path / "no-model"))
    server.send(refused)
    final = server.events_for(refused["id"])[-1]
    assert final["type"] == "error" and final["code"] == "bad_request", final
    assert f"output_dir '{locked}' is not writable" in final["message"], final


def test_non_finite_numbers(backend, texture_request):
    for literal in ("1e999", "-1e999"):  # valid JSON that overflows to infinity
        job = texture_request()
        backend.send(json.dumps(job)[:-1] + f', "guidance": {literal}}}')
        final = backend.events_for(job["id"])[-1]
        assert final["type"] == "error" and final["code"] == "bad_request", final
        assert "finite" in final["message"]
    # NaN and Infinity are not JSON at all; the line is refused before its id can be read.
    backend.send(json.dumps(texture_request())[:-1] + ', "guidance": NaN}')
    event = backend.next_event()
    assert event["type"] == "error" and event["code"] == "bad_request" and event["hint"]
    assert backend.request(texture_request())["type"] == "result"


def test_folder_without_any_model(backend, texture_request, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_error_then_recovery(backend, texture_request, {"model": str(empty)}, "model_invalid")


def test_folder_that_is_not_a_diffusers_pipeline(backend, texture_request, tiny_sd, tmp_path):
    # A single transformers model: it has config.json but no model_index.json.
    text_model = shutil.copytree(tiny_sd / "text_encoder", tmp_path / "text-only")
    final = assert_error_then_recovery(backend, texture_request, {"model": str(text_model)}, "model_invalid")
    assert "model_index.json" in final["message"]


def test_folder_with_a_broken_component(backend, texture_request, tiny_sd, tmp_path):
    broken = shutil.copytree(tiny_sd, tmp_path / "broken")
    (broken / "unet" / "config.json").write_text("{ not json")
    assert_error_then_recovery(backend, texture_request, {"model": str(broken)}, "model_invalid")


def test_custom_code_component_is_refused(backend, texture_request, tiny_sd, tmp_path):
    custom = shutil.copytree(tiny_sd, tmp_path / "custom")
    index = json.loads((custom / "model_index.json").read_text())
    index["unet"] = ["my_unet", "MyUNet"]
    (custom / "model_index.json").write_text(json.dumps(index))
    final = assert_error_then_recovery(backend, texture_request, {"model": str(custom)}, "model_invalid")
    assert "custom code" in final["message"]


def _pickled_copy(tiny_sd, folder):
    """A copy of the tiny model whose weights are pickles only."""
    import torch

    pickled = shutil.copytree(tiny_sd, folder)
    for weights in pickled.rglob("*.safetensors"):
        # The pickle names each library looks for: transformers' and diffusers'.
        name = "pytorch_model.bin" if weights.name == "model.safetensors" else weights.stem + ".bin"
        torch.save(load_file(weights), weights.with_name(name))
        weights.unlink()
    return pickled


def test_pickle_only_weights_are_refused_unless_allowed(backend, texture_request, tiny_sd, tmp_path):
    pickled = _pickled_copy(tiny_sd, tmp_path / "pickled")
    final = assert_error_then_recovery(backend, texture_request, {"model": str(pickled)}, "model_invalid")
    assert "pickle" in final["message"] and "safetensors" in final["hint"]
    allowed = backend.request(texture_request(model=str(pickled), allow_pickle=True))
    assert allowed["type"] == "result", allowed


def test_a_model_loaded_from_pickles_does_not_answer_a_request_refusing_them(backend, texture_request,
                                                                          tiny_sd, tmp_path):
    pickled = _pickled_copy(tiny_sd, tmp_path / "pickled")
    allowed = backend.request(texture_request(model=str(pickled), allow_pickle=True))
    assert allowed["type"] == "result", allowed
    refused = backend.request(texture_request(model=str(pickled)))  # the warm model stays unused
    assert refused["type"] == "error" and refused["code"] == "model_invalid", refused
    assert "pickle" in refused["message"]
