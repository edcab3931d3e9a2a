"""An upscale that fits one tile is the image-to-image call on the Lanczos-resized picture; a
larger one is made tile by tile and, on a seamless picture, still tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from seams import seam_ratio

from backend.seamless import seamless_tiling
from backend.tasks import upscale
from core import protocol

TILES = 1.25  # a result that tiles: its seams jump no more than this many times an inside jump
BREAKS = 1.3  # one that does not: its seams jump at least this many times more


def direct_image_to_image(model, image, seamless: str, **call) -> np.ndarray:
    """The image-to-image call with diffusers alone, as 8-bit pixels."""
    from diffusers import AutoPipelineForImage2Image

    pipe = AutoPipelineForImage2Image.from_pretrained(str(model), dtype=torch.float32, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    with seamless_tiling(pipe, seamless):
        return np.asarray(pipe(image=image, generator=torch.Generator("cpu").manual_seed(call.pop("seed")),
                               **call).images[0])


@pytest.mark.parametrize("seamless", ["off", "xy"])
def test_one_tile_is_the_direct_image_to_image_of_the_lanczos_resize(upscale_job, tiny_sd_128, tiling_picture,
                                                                     seamless):
    """A result of the model's native size (128 px here) is one tile, made by one plain call."""
    request, job = upscale_job(tiling_picture, factor=2, strength=0.5, seamless=seamless,
                               model=str(tiny_sd_128))
    output = upscale.run(request, job)
    served = np.asarray(Image.open(output.files[0].path))

    resized = Image.open(tiling_picture).convert("RGB").resize((128, 128), Image.Resampling.LANCZOS)
    expected = direct_image_to_image(tiny_sd_128, resized, seamless, prompt=request.prompt, strength=0.5,
                                     num_inference_steps=4, guidance_scale=4.0, seed=1234)
    assert served.shape == (128, 128, 3)
    assert np.array_equal(served, expected)
    assert not np.array_equal(served, np.asarray(resized))  # more than a resize
    data = output.data
    assert (data["width"], data["height"], data["factor"]) == (128, 128, 2)
    assert (data["tiles"], data["tile"]) == (1, 128)
    assert (data["strength"], data["seamless"], data["notes"]) == (0.5, seamless, [])


def test_the_default_tile_is_the_model_s_native_size_and_strength_the_upscale_default(upscale_job,
                                                                                       tiling_picture):
    request, job = upscale_job(tiling_picture, factor=2)
    data = upscale.run(request, job).data
    # The tiny model's native size is 64 px: a 128 px result takes 3 x 3 tiles.
    assert (data["tile"], data["tiles"], data["strength"]) == (64, 9, 0.3)


def _seam(image: np.ndarray) -> float:
    return (seam_ratio(image, 0) + seam_ratio(image, 1)) / 2


def test_a_seamless_picture_stays_seamless_through_wrapping_tiles_and_not_without(upscale_job,
                                                                                  tiling_picture):
    """Strength 1 in one step lets the model paint every pixel, so nothing of the (tiling) input
    hides a seam: the result tiles only because the tiles wrap. ``seamless='off'`` takes the same
    tiles without wrapping, and its seams show (median of three seeds, both axes)."""
    ratios = {}
    for seamless in ("xy", "off"):
        seams = []
        for seed in (1, 2, 3):
            request, job = upscale_job(tiling_picture, factor=2, tile=64, steps=1, strength=1.0, seed=seed,
                                       seamless=seamless)
            output = upscale.run(request, job)
            assert output.data["tiles"] == 9
            seams.append(_seam(np.asarray(Image.open(output.files[0].path))))
        ratios[seamless] = float(np.median(seams))
    assert ratios["xy"] < TILES < BREAKS < ratios["off"], ratios


def test_progress_is_reported_tile_by_tile(upscale_job, tiling_picture):
    request, job = upscale_job(tiling_picture, factor=2, tile=64, steps=4, strength=0.5)
    upscale.run(request, job)
    progress = [event for event in job.events if isinstance(event, protocol.ProgressEvent)]
    stages = list(dict.fromkeys(event.stage for event in progress))
    assert stages == [f"tile {index} of 9" for index in range(1, 10)]
    steps = [event.step for event in progress]
    assert steps == sorted(steps) and steps[-1] == progress[-1].total == 9 * 2  # 4 steps x 0.5 a tile


def test_a_cancel_stops_between_tiles(model_cache, tiny_sd, tiling_picture):
    from backend.task_context import JobContext
    from core.errors import Cancelled

    request = protocol.UpscaleRequest(id="upscale-cancel", image=str(tiling_picture), prompt="bricks",
                                      model=str(tiny_sd), steps=2, strength=0.5, tile=64, seed=1,
                                      device="cpu", output_dir=str(tiling_picture.parent / "out"))
    stages = []

    def emit(event):
        stages.append(event.stage)
        if event.stage == "tile 2 of 9":
            job.cancel_event.set()

    job = JobContext(request, model_cache, emit=emit)
    with pytest.raises(Cancelled):
        upscale.run(request, job)
    assert set(stages) == {"tile 1 of 9", "tile 2 of 9"}
    assert not list(tiling_picture.parent.glob("out/**/*.png"))


def test_a_16_bit_picture_gives_a_16_bit_result(upscale_job, tmp_path):
    grey = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    image = tmp_path / "grey16.png"
    Image.fromarray(grey).save(image)
    request, job = upscale_job(image, factor=2, tile=128, steps=2, strength=0.5)
    output = upscale.run(request, job)
    header = open(output.files[0].path, "rb").read(26)
    assert (header[24], header[25]) == (16, 2)  # IHDR: 16 bits a sample, RGB


def test_a_tile_above_the_native_size_decodes_the_vae_in_tiles_and_native_tiles_do_not(
        upscale_job, tiling_picture, tiny_sd):
    """The tiny model's native size is 64 px: 128 px tiles decode in VAE tiles, 64 px ones whole,
    and the cached pipeline is left as it was either way."""
    from backend.tasks.texture import load_pipeline

    tiling_seen = []
    for tile in (128, 64):
        request, job = upscale_job(tiling_picture, factor=2, tile=tile, steps=2, strength=0.5)
        vae = job.load("texture", str(tiny_sd), load_pipeline).vae
        real_decode = vae.decode

        def decode(*args, tile=tile, vae=vae, real_decode=real_decode, **kwargs):  # a spy: stays real
            tiling_seen.append((tile, vae.use_tiling))
            return real_decode(*args, **kwargs)

        vae.decode = decode
        try:
            upscale.run(request, job)
        finally:
            del vae.decode  # the cached VAE serves the other tests
        assert vae.use_tiling is False
    assert tiling_seen == [(128, True)] + [(64, False)] * 9
