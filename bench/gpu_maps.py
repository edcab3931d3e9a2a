"""Marigold maps speed on a GPU: the full set of maps for a 1024 px texture, and each model alone.

Builds the three Marigold pipelines (normals, appearance, depth) as full-size architectures
from their published configuration with random weights (speed does not depend on weight
values; nothing is downloaded): Stable Diffusion 2's UNet reading the image latent and the
noise latent together (8 input channels; 12 in and 8 out for the two appearance targets), its
OpenCLIP-H text encoder (which only ever encodes the empty prompt), its VAE, and DDIM with
trailing timesteps; processing at 768 px like the v1-1 models. Each is also timed with a tiny
autoencoder (``AutoencoderTiny``, TAESD's shape) in place of the VAE. Timed with Atelier's own
engine (``backend.maps_marigold``: the pipeline call, the tangent-space normals, the height, AO
from the classic filter), in fp16, for 1, 2 and 4 steps, at 512 and 1024 px; the PNG files are
left out (about as long as writing any image). It stops adding measurements after
``--budget-s`` (420 s by default), so it ends within 8 minutes with the warm-up included.

    HF_HUB_OFFLINE=1 python bench/gpu_maps.py --json gpu_maps.json   # a CUDA GPU, fp16
    HF_HUB_OFFLINE=1 .venv/bin/python bench/gpu_maps.py --smoke      # tiny models on the CPU

The GPU machine needs torch, transformers, diffusers, numpy and Pillow importable.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.maps_models import MARIGOLD_PARTS  # noqa: E402

ROLES = ("normal", "height", "roughness", "metallic", "ao", "albedo")
SD2_UNET = dict(  # Stable Diffusion 2.x, which the Marigold models are tuned from
    sample_size=96, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    attention_head_dim=(5, 10, 20, 20), cross_attention_dim=1024, use_linear_projection=True,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
SD2_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=768,
               block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
               up_block_types=("UpDecoderBlock2D",) * 4, scaling_factor=0.18215)
OPENCLIP_H = dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23,
                  hidden_act="gelu", projection_dim=1024, vocab_size=49408, max_position_embeddings=77,
                  bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)
# UNet channels (in, out) per part: the image latent plus one noise latent per target.
CHANNELS = {"normals": (8, 4), "appearance": (12, 8), "depth": (8, 4)}
APPEARANCE = {
    "target_names": ["albedo", "material"], "albedo": {"prediction_space": "srgb"},
    "material": {"prediction_space": "stack", "sub_target_names": ["roughness", "metallicity", None]},
    "roughness": {"prediction_space": "linear"}, "metallicity": {"prediction_space": "linear"},
}


def build_pipelines(device: str, dtype, tokenizer_folder: Path) -> dict[str, object]:
    """The three full-size pipelines with random weights, on ``device``."""
    import diffusers
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from backend.doctor_models import write_clip_tokenizer

    # The byte-level tokenizer's ids fall in the vocabulary; the empty prompt costs the same.
    write_clip_tokenizer(tokenizer_folder)
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_folder)
    pipes = {}
    with torch.device(device):
        text_encoder = CLIPTextModel(CLIPTextConfig(**OPENCLIP_H))
        vae = diffusers.AutoencoderKL(**SD2_VAE)
        for part in MARIGOLD_PARTS:
            in_channels, out_channels = CHANNELS[part.folder]
            extra = {"target_properties": APPEARANCE} if part.folder == "appearance" else {}
            pipes[part.folder] = getattr(diffusers, part.pipeline)(
                unet=diffusers.UNet2DConditionModel(**SD2_UNET, in_channels=in_channels,
                                                    out_channels=out_channels),
                vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=_ddim(),
                default_denoising_steps=4, default_processing_resolution=768, **extra)
    for pipe in pipes.values():
        pipe.to(dtype=dtype)
        pipe.set_progress_bar_config(disable=True)
    return pipes


def _ddim():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1, prediction_type="v_prediction",
                         timestep_spacing="trailing")


def build_smoke_pipelines(folder: Path) -> dict[str, object]:
    """The tiny test pipelines, saved and loaded like real ones (a check that this script runs)."""
    import diffusers
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from tiny_pipelines import build_tiny_marigold

    build_tiny_marigold(folder)
    pipes = {}
    for part in MARIGOLD_PARTS:
        pipe = getattr(diffusers, part.pipeline).from_pretrained(
            str(folder / part.folder), dtype=torch.float32, use_safetensors=True)
        pipe.set_progress_bar_config(disable=True)
        pipes[part.folder] = pipe
    return pipes


def with_tiny_autoencoder(pipes: dict, device: str, dtype) -> dict:
    """The same pipelines with one ``AutoencoderTiny`` (TAESD's shape) as their VAE."""
    import torch
    from diffusers import AutoencoderTiny

    with torch.device(device):
        tiny = AutoencoderTiny().to(dtype=dtype)
    swapped = {}
    for name, pipe in pipes.items():
        components = {**pipe.components, "vae": tiny}
        swapped[name] = type(pipe)(**components, **_settings(pipe))
        swapped[name].set_progress_bar_config(disable=True)
    return swapped


def _settings(pipe) -> dict:
    keys = ("prediction_type", "default_denoising_steps", "default_processing_resolution",
            "target_properties")
    return {key: pipe.config[key] for key in keys if key in pipe.config}


def texture(size: int):
    """A size x size colour picture with detail at several scales (float32, 0..1)."""
    import numpy as np

    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    channels = [0.5 + 0.2 * np.sin(2 * np.pi * (k + 2) * x) * np.cos(2 * np.pi * (k + 3) * y)
                for k in range(3)]
    grain = np.random.default_rng(0).random((size, size, 3), dtype=np.float32) * 0.1
    return np.clip(np.stack(channels, -1) + grain, 0, 1).astype(np.float32)


class Clock:
    """Medians of repeated timings, after warm-up, stopping once the budget is spent."""

    def __init__(self, device: str, warmup: int, repeats: int, budget_s: float) -> None:
        self.device, self.warmup, self.repeats = device, warmup, repeats
        self.deadline = time.perf_counter() + budget_s
        self.skipped: list[str] = []

    def median_ms(self, name: str, work) -> float | None:
        if time.perf_counter() > self.deadline:
            self.skipped.append(name)
            return None
        times = []
        for run in range(self.warmup + self.repeats):
            self._sync()
            started = time.perf_counter()
            work()
            self._sync()
            if run >= self.warmup:
                times.append(time.perf_counter() - started)
        return 1000 * statistics.median(times)

    def _sync(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()


def full_set(pipes: dict, rgb, steps: int, seamless: str = "off") -> dict:
    """Every map of ``rgb``, as the backend's engine makes them (without writing PNGs)."""
    from backend.maps_marigold import LoadedPart, maps_from, predict

    predictions = {name: predict(pipe, rgb, seamless, steps, seed=0) for name, pipe in pipes.items()}
    return maps_from(predictions, ROLES, seamless, LoadedPart(pipes["appearance"], "", None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny models on the CPU (a check that it runs)")
    parser.add_argument("--json", help="file to write the numbers to")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget-s", type=float, default=420.0, help="stop adding measurements after this")
    args = parser.parse_args()

    import diffusers
    import torch

    from backend.maps_marigold import predict

    started = time.perf_counter()
    device = "cpu" if args.smoke else "cuda"
    dtype = torch.float32 if args.smoke else torch.float16
    if not args.smoke and not torch.cuda.is_available():
        sys.exit("no CUDA GPU: run with --smoke on a CPU")
    sizes = (64, 128) if args.smoke else (512, 1024)
    steps_list = (1, 2) if args.smoke else (1, 2, 4)
    with tempfile.TemporaryDirectory(prefix="atelier-gpu-maps-") as tmp:
        if args.smoke:
            plain = build_smoke_pipelines(Path(tmp))
        else:
            plain = build_pipelines(device, dtype, Path(tmp) / "tokenizer")
    kinds = {"SD VAE": plain, "tiny AE": with_tiny_autoencoder(plain, device, dtype)}
    built_s = time.perf_counter() - started
    clock = Clock(device, args.warmup, args.repeats, args.budget_s - built_s)
    results = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
               "dtype": str(dtype).removeprefix("torch."), "torch": torch.__version__,
               "diffusers": diffusers.__version__, "build_s": round(built_s, 1), "warmup": args.warmup,
               "repeats": args.repeats, "full_set_ms": {}, "per_model_ms": {}}
    big = sizes[-1]
    pictures = {size: texture(size) for size in sizes}  # made once: only the maps are timed
    for steps in steps_list:
        for kind, pipes in kinds.items():
            results["full_set_ms"][f"{big}px {steps} step(s) {kind}"] = clock.median_ms(
                "full set", lambda p=pipes, s=steps: full_set(p, pictures[big], s))
    for kind, pipes in kinds.items():
        results["full_set_ms"][f"{big}px 1 step(s) {kind} seamless xy"] = clock.median_ms(
            "full set xy", lambda p=pipes: full_set(p, pictures[big], 1, "xy"))
    for size in sizes:
        for steps in steps_list:
            for kind, pipes in kinds.items():
                for name, pipe in pipes.items():
                    results["per_model_ms"][f"{name} {size}px {steps} step(s) {kind}"] = clock.median_ms(
                        name, lambda p=pipe, s=steps, z=size: predict(p, pictures[z], "off", s, seed=0))
    results["skipped_for_time"] = clock.skipped
    results["total_s"] = round(time.perf_counter() - started, 1)

    print(f"{results['device']} {results['dtype']}, median of {args.repeats} after {args.warmup} warm-up; "
          f"built in {results['build_s']} s")
    for title in ("full_set_ms", "per_model_ms"):
        print(f"-- {title.removesuffix('_ms').replace('_', ' ')}")
        for name, value in results[title].items():
            print(f"{name:48} {'skipped' if value is None else f'{value:9.1f} ms'}")
    best = min((v, k) for k, v in results["full_set_ms"].items() if v is not None and "seamless" not in k)
    print(f"full set of maps for a {big} px texture: {best[0]:.0f} ms ({best[1]}); "
          f"total {results['total_s']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
