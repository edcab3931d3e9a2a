"""The same texture made with diffusers alone, for the hand-over tests to compare against."""

from __future__ import annotations

from pathlib import Path

# The settings every hand-over test job uses (tiny SD: 64 px native, SD's guidance).
SETTINGS = {"prompt": "weathered red bricks", "width": 64, "height": 64, "steps": 2, "guidance": 7.5,
            "seed": 7}


def direct_image(model: Path, tiny_autoencoder: Path | None = None, **settings):
    """The PIL image a direct diffusers call makes; with ``tiny_autoencoder`` the pipeline's
    ``vae`` is that ``AutoencoderTiny``, as diffusers' own documentation sets it."""
    import torch
    from diffusers import AutoencoderTiny, AutoPipelineForText2Image

    settings = {**SETTINGS, **settings}
    pipe = AutoPipelineForText2Image.from_pretrained(str(model), dtype=torch.float32, use_safetensors=True)
    if tiny_autoencoder is not None:
        pipe.vae = AutoencoderTiny.from_pretrained(str(tiny_autoencoder), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe(prompt=settings["prompt"], width=settings["width"], height=settings["height"],
                num_inference_steps=settings["steps"], guidance_scale=settings["guidance"],
                generator=torch.Generator("cpu").manual_seed(settings["seed"])).images[0]
