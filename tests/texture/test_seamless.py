"""(b) Seamless mode really wraps, on each axis, and leaves the pipeline as it was.

The decisive check: with circular padding the whole pipeline commutes with rolling, so rolling
the initial latents by k rolls the decoded image by 8k pixels. Without it the borders differ.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.seamless import seamless_tiling

SHIFT = 2  # latent pixels; a multiple of the UNet's downsampling (2) keeps the grid aligned


@pytest.fixture(scope="module")
def pipe(tiny_sd):
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(str(tiny_sd), dtype=torch.float32, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def render(pipe, latents: torch.Tensor) -> np.ndarray:
    return pipe(prompt="cobblestones", width=64, height=64, num_inference_steps=2, guidance_scale=3.0,
                latents=latents.clone(), output_type="np").images[0]


@pytest.fixture(scope="module")
def latents():
    return torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("mode", ["xy", "x", "y"])
def test_rolling_latents_rolls_the_image(pipe, latents, mode):
    with seamless_tiling(pipe, mode):
        base = render(pipe, latents)
        rolled_x = render(pipe, torch.roll(latents, SHIFT, dims=3))
        rolled_y = render(pipe, torch.roll(latents, SHIFT, dims=2))
    error_x = np.abs(rolled_x - np.roll(base, 8 * SHIFT, axis=1)).max()
    error_y = np.abs(rolled_y - np.roll(base, 8 * SHIFT, axis=0)).max()
    assert (error_x < 1e-5) == ("x" in mode), error_x
    assert (error_y < 1e-5) == ("y" in mode), error_y


def test_without_seamless_the_image_does_not_wrap(pipe, latents):
    base = render(pipe, latents)
    rolled = render(pipe, torch.roll(latents, SHIFT, dims=3))
    assert np.abs(rolled - np.roll(base, 8 * SHIFT, axis=1)).max() > 1e-2


def test_patch_is_removed_afterwards(pipe, latents):
    before = render(pipe, latents)
    with seamless_tiling(pipe, "xy"):
        assert not np.array_equal(render(pipe, latents), before)
    assert np.array_equal(render(pipe, latents), before)
    patched = [m for m in pipe.unet.modules() if "_conv_forward" in vars(m)]
    assert patched == []


def test_vae_encoder_wraps_too(pipe):
    """The encoder's Downsample2D pads explicitly; img2img input must wrap as well."""
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(5)) * 2 - 1
    shifted = torch.roll(image, 8, dims=3)

    def encode(x):
        return pipe.vae.encode(x).latent_dist.mean

    with torch.no_grad(), seamless_tiling(pipe, "xy"):
        error = (encode(shifted) - torch.roll(encode(image), 1, dims=3)).abs().max().item()
    with torch.no_grad():
        plain_error = (encode(shifted) - torch.roll(encode(image), 1, dims=3)).abs().max().item()
    assert error < 1e-5
    assert plain_error > 1e-3
