"""How ``ATELIER_FAST``, ``ATELIER_COMPILE`` and ``ATELIER_COMPILE_CACHE`` resolve, what a bad value
says, the attention the fast path guarantees, quantised weights left unfused, and the rule that
the per-step callback never reads a tensor."""

from __future__ import annotations

import os
import sys

import pytest
from pipeline_jobs import texture_job

from backend import fast_path, quantisation
from backend.model_cache import ModelCache
from backend.tasks import texture
from core.errors import TaskError


@pytest.fixture
def compile_cache_env(monkeypatch):
    """Inductor's cache variable as it was after the test (resolving with compiling on sets it)."""
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "left-as-found")
    for name in ("ATELIER_FAST", "ATELIER_COMPILE", "ATELIER_COMPILE_CACHE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_auto_is_on_for_cuda_with_cuda_graphs_and_off_elsewhere(compile_cache_env, tmp_path):
    compile_cache_env.setenv("ATELIER_COMPILE_CACHE", str(tmp_path / "compiled"))
    assert fast_path.resolve("cpu") == fast_path.Settings(False, None, "ATELIER_FAST=auto on cpu")
    assert fast_path.resolve("cuda:0") == fast_path.Settings(True, "reduce-overhead",
                                                             "ATELIER_FAST=auto on cuda:0")
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str((tmp_path / "compiled").resolve())
    compile_cache_env.setenv("ATELIER_FAST", "on")
    assert fast_path.resolve("cpu") == fast_path.Settings(True, "default", "ATELIER_FAST=on")
    compile_cache_env.setenv("ATELIER_COMPILE", "0")
    assert fast_path.resolve("cuda") == fast_path.Settings(True, None, "ATELIER_FAST=on")
    compile_cache_env.setenv("ATELIER_FAST", "off")
    compile_cache_env.delenv("ATELIER_COMPILE")
    assert fast_path.resolve("cuda") == fast_path.Settings(False, None, "ATELIER_FAST=off")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the user's cache folder of Linux")
def test_compiled_code_goes_to_the_users_cache_folder_by_default(compile_cache_env, tmp_path):
    compile_cache_env.setenv("XDG_CACHE_HOME", str(tmp_path))
    fast_path.resolve("cuda")
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "atelier" / "torch-compile")
    assert (tmp_path / "atelier" / "torch-compile").is_dir()


@pytest.mark.parametrize("name, value", [("ATELIER_FAST", "fastest"), ("ATELIER_COMPILE", "sometimes"),
                                         ("ATELIER_COMPILE_CACHE", "{file}/under-a-file")])
def test_a_bad_setting_is_a_bad_request_naming_the_variable(compile_cache_env, tmp_path, name, value):
    (tmp_path / "file").write_text("not a folder")
    compile_cache_env.setenv(name, value.format(file=tmp_path / "file"))
    with pytest.raises(TaskError) as raised:
        fast_path.resolve("cuda")
    assert raised.value.code == "bad_request"
    assert name in raised.value.message + raised.value.hint


def test_a_slower_attention_processor_is_replaced_by_sdpa(tiny_sd):
    """On a UNet whose weights are quantised, which stays unfused: fusing would set the fused SDPA
    processor whatever the replacement did, and hide it."""
    from diffusers import AutoPipelineForText2Image
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    pipe = AutoPipelineForText2Image.from_pretrained(str(tiny_sd))
    pipe.unet.set_attn_processor(AttnProcessor())  # the classic one: the whole attention matrix
    quantisation.quantise_denoiser(pipe, "int8", "cpu")
    fast_path.speed_up(pipe, "cpu", fast_path.Settings(True, None))
    assert {type(processor) for processor in pipe.unet.attn_processors.values()} == {AttnProcessor2_0}
    assert pipe._atelier_setup["attention"] == "sdpa (replaced in UNet2DConditionModel)"
    assert pipe._atelier_setup["fused_qkv"].startswith("AutoencoderKL (skipped UNet2DConditionModel")


def test_quantised_weights_stay_unfused_and_the_rest_is_fused(tiny_sd, tmp_path, monkeypatch):
    monkeypatch.setenv("ATELIER_FAST", "on")
    monkeypatch.setenv("ATELIER_COMPILE", "0")
    monkeypatch.setenv("ATELIER_QUANTIZE", "int8")
    output, pixels = texture_job(tiny_sd, tmp_path, ModelCache())
    applied = output.metadata["optimisations"]
    assert applied["fused_qkv"] == "AutoencoderKL (skipped UNet2DConditionModel: quantised weights)"
    assert pixels.shape == (64, 64, 3)


class Untouchable(dict):
    """A step's tensors: any read of a value fails the test (on a GPU it would wait for the device)."""

    def _read(self, *args, **kwargs):
        raise AssertionError("the per-step callback read a tensor")

    __getitem__ = get = values = items = pop = __iter__ = _read


def test_the_per_step_callback_reads_no_tensor():
    from backend.task_context import JobContext
    from core import protocol

    events = []
    job = JobContext(protocol.TextureRequest(id="callback", prompt="x"), ModelCache(), emit=events.append)
    tensors = Untouchable(latents=object())
    callback = texture.progress_callback(job, 4)
    assert callback(None, 0, Untouchable(), tensors) is tensors
    assert [(event.step, event.total) for event in events] == [(1, 4)]
