"""What ATELIER_QUANTIZE=int8 and the tiled VAE of ATELIER_LOW_VRAM=1 cost and save on the CPU.

Full-size architectures from their published configs (``bench.gpu_turbo``) with random weights:
speed and memory do not depend on weight values; the closeness figures (SNR of the UNet's noise
prediction, PSNR of the decoded image) are those of random weights and only show the order of
the change. Measured directly on the models, through the backend's own functions
(``quantisation.quantise_denoiser``, the VAE tiling ``memory_mode.tile_vae`` switches on). Run
from the repository root:

    HF_HUB_OFFLINE=1 python bench/quantise_cpu.py --json quantise_cpu.json
    HF_HUB_OFFLINE=1 python bench/quantise_cpu.py --tiny        # the tests' tiny shapes: a check
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gpu_setup import psnr_db  # noqa: E402
from bench.gpu_turbo import SD_TURBO_UNET, SDXL_TURBO_UNET, VAE  # noqa: E402

UNETS = {"sd-turbo": (SD_TURBO_UNET, 1024), "sdxl-turbo": (SDXL_TURBO_UNET, 2048)}


def weight_bytes(model) -> int:
    """Bytes of ``model``'s parameters, a quantised one counted by its inner tensors."""
    total = 0
    for param in model.parameters():
        flatten = getattr(param, "__tensor_flatten__", None)
        inner = [getattr(param, name) for name in flatten()[0]] if flatten else [param]
        total += sum(tensor.numel() * tensor.element_size() for tensor in inner)
    return total


def timed(call, repeats: int) -> tuple[float, object]:
    """Median seconds of ``repeats`` calls after one warm-up, and the last output."""
    output = call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        output = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), output


def snr_db(reference, other) -> float:
    """Signal-to-noise ratio of ``other`` against ``reference`` in dB."""
    noise = float(((reference - other) ** 2).sum())
    return math.inf if noise == 0 else 10 * math.log10(float((reference**2).sum()) / noise)


def as_image(decoded):
    """A VAE output as the 8-bit image the pipelines make of it (clamped to [-1, 1])."""
    import torch

    return ((decoded.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def unet_figures(name: str, config: dict, cross_dim: int, latent: int, repeats: int) -> dict:
    """Weights, time per step and closeness of one UNet step, float32 against int8."""
    import torch
    from diffusers import UNet2DConditionModel

    from backend import quantisation

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**config).eval()
    inputs = {"sample": torch.randn(1, 4, latent, latent), "timestep": torch.tensor(999),
              "encoder_hidden_states": torch.randn(1, 77, cross_dim)}
    if config.get("addition_embed_type") == "text_time":
        text_dim = config["projection_class_embeddings_input_dim"] - 6 * config["addition_time_embed_dim"]
        size = latent * 8.0  # original size, crop corner, target size
        inputs["added_cond_kwargs"] = {"text_embeds": torch.randn(1, text_dim),
                                       "time_ids": torch.tensor([[size, size, 0.0, 0.0, size, size]])}

    def step():
        with torch.inference_mode():
            return unet(**inputs).sample

    before = weight_bytes(unet)
    float_s, reference = timed(step, repeats)
    pipe = types.SimpleNamespace(unet=unet)  # the one component quantise_denoiser reads
    started = time.perf_counter()
    quantisation.quantise_denoiser(pipe, "int8", "cpu")
    quantise_s = time.perf_counter() - started
    int8_s, quantised = timed(step, repeats)
    return {"model": name, "size": latent * 8, "weights_mib": {"float32": before / 2**20,
                                                               "int8": weight_bytes(unet) / 2**20},
            "step_s": {"float32": float_s, "int8": int8_s}, "quantise_s": quantise_s,
            "noise_prediction_snr_db": snr_db(reference, quantised)}


def vae_figures(sample_size: int, size: int, repeats: int) -> dict:
    """Time, closeness and peak memory of decoding one ``size`` px image in one pass and tiled."""
    import torch
    from diffusers import AutoencoderKL

    from backend import memory_mode

    torch.manual_seed(0)
    vae = AutoencoderKL(**VAE, sample_size=sample_size).eval()
    latents = torch.randn(1, 4, size // 8, size // 8)

    def decode():
        with torch.inference_mode():
            return vae.decode(latents).sample

    # Peak resident memory only grows: the tiled decode runs first, so the one-pass decode's
    # rise above it is what tiling saves.
    memory_mode.tile_vae(types.SimpleNamespace(vae=vae))
    tiled_s, tiled = timed(decode, repeats)
    tiled_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    vae.disable_tiling()
    whole_s, whole = timed(decode, repeats)
    whole_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    return {"size": size, "tile": vae.tile_sample_min_size,
            "decode_s": {"one pass": whole_s, "tiled": tiled_s},
            "peak_rss_mib": {"tiled": tiled_peak, "one pass": whole_peak},
            "psnr_db": psnr_db(as_image(tiled), as_image(whole))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny shapes (a check that it runs)")
    parser.add_argument("--json", help="file to write the numbers to")
    parser.add_argument("--models", default="sd-turbo", help=f"comma-separated, of {', '.join(UNETS)}")
    parser.add_argument("--size", type=int, default=256, help="UNet step at this image size (px)")
    parser.add_argument("--vae-size", type=int, default=768, help="decoded image size (px)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    results = {"device": "cpu", "threads": torch.get_num_threads(), "unet": [], "vae": None}
    if args.tiny:
        from backend.doctor_models import TEXT_HIDDEN, unet

        config = {key: value for key, value in unet(cross_attention_dim=TEXT_HIDDEN).config.items()
                  if not key.startswith("_")}
        results["unet"].append(unet_figures("tiny-sd", config, TEXT_HIDDEN, 8, 1))
        results["vae"] = vae_figures(64, 128, 1)  # the full-size VAE with a 64 px tile
    else:
        for name in args.models.split(","):
            config, cross_dim = UNETS[name]
            results["unet"].append(unet_figures(name, config, cross_dim, args.size // 8, args.repeats))
        results["vae"] = vae_figures(512, args.vae_size, args.repeats)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
