"""Every on/off setting takes the same words, every setting is checked before a model loads, and
a compile cache folder that cannot be used is refused naming ``ATELIER_COMPILE_CACHE``."""

from __future__ import annotations

import sys

import pytest
from PIL import Image
from pipeline_jobs import SETTINGS, refine_job, texture_job

from backend import fast_path, memory_mode, pipeline_setup, quantisation
from backend.env_switch import switch
from backend.model_cache import ModelCache
from backend.torch_compile import COMPILE_CACHE_ENV, COMPILE_ENV
from core.errors import TaskError

SWITCHES = (fast_path.FAST_ENV, COMPILE_ENV, memory_mode.LOW_VRAM_ENV, memory_mode.CPU_OFFLOAD_ENV)


@pytest.fixture
def settings_env(monkeypatch, tmp_path):
    """No setting of the test's environment leaks in; compiled code would go to ``tmp_path``."""
    for name in (*SWITCHES, quantisation.QUANTIZE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "left-as-found")
    monkeypatch.setenv(COMPILE_CACHE_ENV, str(tmp_path / "compiled"))
    return monkeypatch


@pytest.mark.parametrize("name", SWITCHES)
@pytest.mark.parametrize("words, on", [(("1", "on", "ON", " true ", "Yes"), True),
                                       (("0", "off", "Off", "FALSE", " no "), False)])
def test_every_switch_takes_the_same_words_in_any_case(name, words, on, settings_env):
    for word in words:
        settings_env.setenv(name, word)
        assert switch(name) is on, word


def test_the_settings_read_their_switches_with_the_shared_words(settings_env):
    settings_env.setenv(fast_path.FAST_ENV, "Yes")
    settings_env.setenv(COMPILE_ENV, "false")
    assert fast_path.resolve("cpu") == fast_path.Settings(True, None, "ATELIER_FAST=on")
    settings_env.setenv(fast_path.FAST_ENV, " AUTO ")
    assert fast_path.resolve("cpu").fast is False
    settings_env.setenv(memory_mode.LOW_VRAM_ENV, "true")
    settings_env.setenv(memory_mode.CPU_OFFLOAD_ENV, "NO")
    assert memory_mode.settings("cpu") == (True, False)


@pytest.mark.parametrize("name", SWITCHES)
def test_a_word_that_is_no_switch_is_refused_naming_the_variable(name, settings_env):
    settings_env.setenv(name, "maybe")
    with pytest.raises(TaskError) as caught:
        pipeline_setup.check("cpu")
    error = caught.value
    assert error.code == "bad_request"
    assert f'{name}="maybe"' in error.message and "1/0, true/false and yes/no" in error.message
    assert name in error.hint and "restart" in error.hint


def test_a_bad_quantisation_fails_before_the_texture_model_is_looked_for(settings_env, tmp_path):
    # A model that is not there: a job that looked for it first would fail with model_missing.
    settings_env.setenv(quantisation.QUANTIZE_ENV, "int3")
    with pytest.raises(TaskError) as caught:
        texture_job(tmp_path / "no-such-model", tmp_path, ModelCache())
    assert caught.value.code == "bad_request" and "ATELIER_QUANTIZE='int3'" in caught.value.message


def test_a_bad_setting_fails_an_edit_before_its_model_is_looked_for(settings_env, tmp_path):
    picture = tmp_path / "picture.png"
    Image.new("RGB", (SETTINGS["width"], SETTINGS["height"]), "red").save(picture)
    settings_env.setenv(memory_mode.LOW_VRAM_ENV, "sometimes")
    with pytest.raises(TaskError) as caught:
        refine_job(tmp_path / "no-such-model", picture, tmp_path, ModelCache())
    assert caught.value.code == "bad_request" and memory_mode.LOW_VRAM_ENV in caught.value.message


def test_offload_to_a_gpu_without_accelerate_is_refused_before_loading(settings_env):
    # None in sys.modules makes accelerate unfindable, as where it is not installed. The check
    # reads settings only, so it needs no GPU.
    settings_env.setitem(sys.modules, "accelerate", None)
    settings_env.setenv(fast_path.FAST_ENV, "off")
    settings_env.setenv(memory_mode.LOW_VRAM_ENV, "1")
    with pytest.raises(TaskError) as caught:
        pipeline_setup.check("cuda")
    assert caught.value.code == "bad_request"
    assert "CPU offload (ATELIER_LOW_VRAM=1) needs the accelerate library" in caught.value.message
    assert "pip install accelerate" in caught.value.hint
    pipeline_setup.check("cpu")  # nothing is offloaded on the CPU: nothing is missing


@pytest.mark.parametrize("value, says", [("relative/cache", "relative path"),
                                         ("~no-such-user-of-atelier/cache", "cannot find")])
def test_a_compile_cache_that_cannot_be_found_is_refused_naming_the_variable(value, says, settings_env):
    settings_env.setenv(fast_path.FAST_ENV, "on")
    settings_env.setenv(COMPILE_CACHE_ENV, value)
    with pytest.raises(TaskError) as caught:
        pipeline_setup.check("cpu")
    error = caught.value
    assert error.code == "bad_request" and says in error.message
    assert f"set {COMPILE_CACHE_ENV} to an absolute folder" in error.hint
