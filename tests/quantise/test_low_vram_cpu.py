"""ATELIER_LOW_VRAM=1 on the CPU: the VAE decodes in tiles (there is no GPU to offload to, so
nothing is offloaded, and the record says why), the texture stays within a measured PSNR of the
one decoded in one pass, the Marigold maps models are never tiled, and bad settings are refused
with the fix."""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_jobs import loaded_pipeline, texture_job

from backend import maps_marigold, memory_mode, pipeline_setup
from backend.model_cache import ModelCache
from backend.models import LocatedModel
from bench.gpu_setup import PSNR_IDENTICAL, psnr_db
from core.errors import TaskError
from core.maps_models import MARIGOLD_PARTS

# Twice the tiny VAE's tile (64 px, its sample size): 2 x 2 overlapping tiles, blended.
TILED_SIZE = 128
# Measured with the tiny random SD model at 128 px, against one pass (each tile normalises its own
# activations, and the overlaps are blended, so tiles differ from one pass): 28.3 dB with the
# tests' seed (7); 25.0-28.3 dB over eight seeds (1-5, 7, 11, 23). The same tiles not blended
# (``tile_overlap_factor = 0``) score 23.0 dB with seed 7 and 21.7-23.1 dB over those seeds, and
# tiles out of place 12-14 dB: this bound, for seed 7, fails an unblended decode by 3 dB.
TILED_PSNR_DB = 26.0


def test_low_vram_decodes_in_tiles_within_the_bound_and_records_it(tiny_sd, tmp_path, monkeypatch):
    monkeypatch.delenv(memory_mode.LOW_VRAM_ENV, raising=False)
    _, whole = texture_job(tiny_sd, tmp_path / "whole", ModelCache(), width=TILED_SIZE, height=TILED_SIZE)
    monkeypatch.setenv(memory_mode.LOW_VRAM_ENV, "1")
    cache = ModelCache()
    output, tiled = texture_job(tiny_sd, tmp_path / "tiled", cache, width=TILED_SIZE, height=TILED_SIZE)

    vae = loaded_pipeline(cache, tiny_sd).vae
    assert vae.use_tiling and TILED_SIZE > vae.tile_sample_min_size  # this size does tile
    measured = psnr_db(tiled, whole)
    print(f"tiled VAE decode against one pass, {TILED_SIZE} px: {measured:.1f} dB")
    assert TILED_PSNR_DB <= measured < PSNR_IDENTICAL  # close, and yet decoded another way

    record = output.metadata["optimisations"]
    assert record["low_vram"] is True and record["vae_tiling"] is True
    assert record["cpu_offload"] is False  # the CPU holds the weights already: nothing to offload
    assert "ATELIER_LOW_VRAM=1 offloads to CUDA GPUs only, not to cpu" == record["cpu_offload_skipped"]


def test_an_image_within_one_tile_decodes_as_before(tiny_sd, tmp_path, monkeypatch):
    monkeypatch.delenv(memory_mode.LOW_VRAM_ENV, raising=False)
    _, whole = texture_job(tiny_sd, tmp_path / "whole", ModelCache())
    monkeypatch.setenv(memory_mode.LOW_VRAM_ENV, "1")
    _, tiled = texture_job(tiny_sd, tmp_path / "tiled", ModelCache())
    assert np.array_equal(tiled, whole)


def test_cpu_offload_on_the_cpu_runs_as_placed_and_says_why(tiny_sd, monkeypatch):
    monkeypatch.setenv(memory_mode.CPU_OFFLOAD_ENV, "1")
    monkeypatch.delenv(memory_mode.LOW_VRAM_ENV, raising=False)
    applied = pipeline_setup.applied(loaded_pipeline(ModelCache(), tiny_sd))
    assert applied["cpu_offload"] is False and applied["vae_tiling"] is False and applied["low_vram"] is False
    assert applied["cpu_offload_skipped"] == "ATELIER_CPU_OFFLOAD=1 offloads to CUDA GPUs only, not to cpu"


@pytest.mark.parametrize("name", [memory_mode.LOW_VRAM_ENV, memory_mode.CPU_OFFLOAD_ENV])
def test_a_bad_switch_value_is_refused_with_the_fix(name, tiny_sd, monkeypatch):
    monkeypatch.setenv(name, "maybe")
    with pytest.raises(TaskError) as caught:
        loaded_pipeline(ModelCache(), tiny_sd)
    assert caught.value.code == "bad_request"
    assert f'{name}="maybe"' in caught.value.message
    assert f"set {name} to on or off" in caught.value.hint


def test_a_seamless_texture_decodes_in_one_pass_so_its_edges_still_meet(tiny_sd, tmp_path, monkeypatch):
    """Tiles wrap each on itself, not around the image: a seamless job turns tiling off while it
    decodes (and back on after), and so equals the same job made without the low-VRAM mode."""
    monkeypatch.delenv(memory_mode.LOW_VRAM_ENV, raising=False)
    _, whole = texture_job(tiny_sd, tmp_path / "whole", ModelCache(), width=TILED_SIZE, height=TILED_SIZE,
                           seamless="xy")
    monkeypatch.setenv(memory_mode.LOW_VRAM_ENV, "1")
    cache = ModelCache()
    _, low_vram = texture_job(tiny_sd, tmp_path / "low-vram", cache, width=TILED_SIZE, height=TILED_SIZE,
                              seamless="xy")
    assert np.array_equal(low_vram, whole)
    assert loaded_pipeline(cache, tiny_sd).vae.use_tiling  # tiled again for the jobs after it


def test_the_maps_models_are_not_tiled_in_the_low_vram_mode(tiny_marigold, monkeypatch):
    """Blended tiles would shift the normals and heights the maps measure: only the offload applies."""
    import torch

    monkeypatch.setenv(memory_mode.LOW_VRAM_ENV, "1")
    part = MARIGOLD_PARTS[0]
    located = LocatedModel(str(tiny_marigold / part.folder), None, is_local=True)
    pipe = maps_marigold.load_part(part, located, "cpu", torch.float32).pipe
    assert not pipe.vae.use_tiling
    applied = pipeline_setup.applied(pipe)
    assert applied["low_vram"] is True and applied["vae_tiling"] is False
    assert applied["cpu_offload_skipped"] == "ATELIER_LOW_VRAM=1 offloads to CUDA GPUs only, not to cpu"
