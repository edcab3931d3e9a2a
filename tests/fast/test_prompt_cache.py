"""The prompt-embedding cache: a prompt seen before is not encoded again, the texture is
pixel-identical, and every argument of the encoding (the negative prompt too) is part of the key."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pipeline_jobs import encoder_runs, loaded_pipeline, texture_job

from backend.model_cache import ModelCache
from backend.prompt_cache import RememberedOutputs


@pytest.mark.parametrize("model_fixture", ["tiny_sd", "tiny_sdxl"])
def test_a_prompt_seen_before_is_not_encoded_again(model_fixture, request, tmp_path):
    model = request.getfixturevalue(model_fixture)
    cache = ModelCache()
    runs = encoder_runs(loaded_pipeline(cache, model))

    _, first = texture_job(model, tmp_path, cache)
    assert all(runs.values()), runs
    runs.update(dict.fromkeys(runs, 0))
    _, again = texture_job(model, tmp_path, cache)
    assert runs == dict.fromkeys(runs, 0)
    np.testing.assert_array_equal(again, first)

    _, other = texture_job(model, tmp_path, cache, prompt="mossy stone")
    assert runs == dict.fromkeys(runs, 1)  # the new prompt only: the empty negative one is known
    assert not np.array_equal(other, first)


def test_a_new_negative_prompt_is_encoded_and_the_prompt_is_not(tiny_sd, tmp_path):
    cache = ModelCache()
    texture_job(tiny_sd, tmp_path, cache)
    runs = encoder_runs(loaded_pipeline(cache, tiny_sd))
    texture_job(tiny_sd, tmp_path, cache, negative_prompt="blurry")
    assert runs == {"text_encoder": 1}


def test_callers_get_copies_and_the_least_recently_used_input_goes_first():
    calls = []

    def forward(ids, scale=1.0):
        calls.append((ids.tolist(), scale))
        return {"embeds": ids.float() * scale}

    three_floats = 3 * 4
    remembered = RememberedOutputs(forward, max_bytes=2 * three_floats)
    first, second = torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])
    with torch.no_grad():
        remembered(first)["embeds"].add_(100)  # what a caller does to its copy stays with it
        assert remembered(first)["embeds"].tolist() == [1.0, 2.0, 3.0]
        remembered(first, scale=2.0)  # another argument: another entry
        assert len(calls) == 2
        remembered(second)  # a third entry: the least recently used one (scale 1) goes
        remembered(first, scale=2.0)
        assert len(calls) == 3
        remembered(first)
        assert len(calls) == 4
    remembered(second)  # with gradients on, nothing is cached or served from the cache
    assert len(calls) == 5
