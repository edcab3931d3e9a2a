"""Under model CPU offload diffusers re-makes accelerate's hooks after every pipeline call, which
puts each text encoder's own forward back: the prompt cache is installed again before each call
and keeps what it remembered, so a prompt seen before is still not encoded again."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pipeline_jobs import encoder_runs, loaded_pipeline, offloaded_to_the_cpu, refine_job, texture_job

from backend.model_cache import ModelCache


@pytest.fixture
def offloaded_cache(tiny_sd, monkeypatch):
    for name in ("ATELIER_FAST", "ATELIER_QUANTIZE", "ATELIER_LOW_VRAM", "ATELIER_CPU_OFFLOAD"):
        monkeypatch.delenv(name, raising=False)
    cache = ModelCache()
    offloaded = loaded_pipeline(cache, tiny_sd, offloaded_to_the_cpu)
    assert offloaded._all_hooks  # offloaded indeed: diffusers re-hooks it after each call
    return cache, offloaded


def test_an_offloaded_pipeline_still_encodes_a_prompt_once(tiny_sd, tmp_path, offloaded_cache):
    cache, pipe = offloaded_cache
    runs = encoder_runs(pipe)
    _, first = texture_job(tiny_sd, tmp_path, cache)
    assert runs == {"text_encoder": 2}  # the prompt and the empty negative one
    _, again = texture_job(tiny_sd, tmp_path, cache)
    assert runs == {"text_encoder": 2}
    np.testing.assert_array_equal(again, first)

    picture = tmp_path / "picture.png"
    Image.fromarray(first).save(picture)
    refine_job(tiny_sd, picture, tmp_path, cache)  # an edit pipeline shares the encoder and its cache
    assert runs == {"text_encoder": 2}
