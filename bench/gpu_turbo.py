"""SD-Turbo and SDXL-Turbo latency at 512x512, through the backend and as a direct diffusers call.

Builds the full-size architectures from their published configs with random weights (speed
does not depend on weight values, so nothing is downloaded), saves them with save_pretrained
and times 1-step and 4-step jobs, interleaved, through a ``serve`` subprocess and directly.
Both paths write the PNG. Run from the repository root:

    HF_HUB_OFFLINE=1 python bench/gpu_turbo.py gpu_turbo.json          # on a CUDA GPU, fp16
    HF_HUB_OFFLINE=1 python bench/gpu_turbo.py --tiny tiny_turbo.json  # tiny models on the CPU
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.serve_client import ServeProcess  # noqa: E402

MODELS = (("sd-turbo", "sd"), ("sdxl-turbo", "sdxl"))
VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
           block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
           up_block_types=("UpDecoderBlock2D",) * 4)
SD_TURBO_UNET = dict(  # Stable Diffusion 2.1 / SD-Turbo
    sample_size=64, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    attention_head_dim=(5, 10, 20, 20), cross_attention_dim=1024, use_linear_projection=True,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
SDXL_TURBO_UNET = dict(
    sample_size=64, block_out_channels=(320, 640, 1280), layers_per_block=2,
    transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048,
    addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816, use_linear_projection=True,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"))
CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
              hidden_act="quick_gelu", projection_dim=768)
OPENCLIP_H = dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23,
                  hidden_act="gelu", projection_dim=1024)
OPENCLIP_BIGG = dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32,
                     hidden_act="gelu", projection_dim=1280)


def build_full_size(kind: str, folder: Path, device: str, dtype) -> Path:
    """Random-weight SD-Turbo ('sd') or SDXL-Turbo ('sdxl') saved as a diffusers folder."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    from backend.doctor_models import write_clip_tokenizer

    def text(config: dict, projection: bool):
        cfg = CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, bos_token_id=49406,
                             eos_token_id=49407, pad_token_id=49407, **config)
        return (CLIPTextModelWithProjection if projection else CLIPTextModel)(cfg)

    # The byte-level tokenizer uses ids below 516; token count, not vocabulary, sets the cost.
    write_clip_tokenizer(folder / "_tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "_tokenizer")
    scheduler = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                                beta_schedule="scaled_linear", timestep_spacing="trailing",
                                                steps_offset=1)
    with torch.device(device):
        if kind == "sd":
            pipe = StableDiffusionPipeline(
                vae=AutoencoderKL(**VAE, sample_size=512, scaling_factor=0.18215),
                text_encoder=text(OPENCLIP_H, False), tokenizer=tokenizer,
                unet=UNet2DConditionModel(**SD_TURBO_UNET), scheduler=scheduler,
                safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        else:
            pipe = StableDiffusionXLPipeline(
                vae=AutoencoderKL(**VAE, sample_size=1024, scaling_factor=0.13025),
                text_encoder=text(CLIP_L, False), text_encoder_2=text(OPENCLIP_BIGG, True),
                tokenizer=tokenizer, tokenizer_2=tokenizer,
                unet=UNet2DConditionModel(**SDXL_TURBO_UNET), scheduler=scheduler)
    pipe.to(dtype=dtype)
    pipe.save_pretrained(folder, safe_serialization=True)
    import shutil

    shutil.rmtree(folder / "_tokenizer")
    del pipe
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return folder


def time_model(server: ServeProcess, pipe, name: str, folder: Path, size: int, tmp: Path,
               args: argparse.Namespace) -> dict:
    """Interleaved 1-step and 4-step timings of one model, through serve and direct."""
    import torch

    counter = iter(range(10**6))

    def served(steps: int) -> float:
        index = next(counter)
        event, seconds = server.run({
            "type": "texture", "id": f"{name}-{index}", "prompt": "mossy stone wall", "model": str(folder),
            "output_dir": str(tmp / "served"), "width": size, "height": size, "steps": steps,
            "guidance": 0.0, "seed": index})
        if event["type"] != "result":
            raise RuntimeError(event)
        return seconds

    def direct(steps: int) -> float:
        index = next(counter)
        started = time.perf_counter()
        image = pipe(prompt="mossy stone wall", width=size, height=size, num_inference_steps=steps,
                     guidance_scale=0.0, generator=torch.Generator("cpu").manual_seed(index)).images[0]
        image.save(tmp / f"direct-{name}-{index}.png")
        return time.perf_counter() - started

    started = time.perf_counter()
    served(1)  # the first job loads the model into the backend
    entry = {"backend_first_job_s": time.perf_counter() - started}
    for steps in (1, 4):
        for _ in range(args.warmup):
            served(steps)
            direct(steps)
        times = {"backend": [], "direct": []}
        for _ in range(args.repeats):
            times["backend"].append(served(steps))
            times["direct"].append(direct(steps))
        entry[f"{steps}_step"] = {
            "backend_ms": 1000 * statistics.median(times["backend"]),
            "direct_ms": 1000 * statistics.median(times["direct"]),
            "backend_ms_all": [round(1000 * t, 2) for t in times["backend"]],
            "direct_ms_all": [round(1000 * t, 2) for t in times["direct"]],
        }
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_json", help="file to write the numbers to")
    parser.add_argument("--tiny", action="store_true", help="tiny models on the CPU (a check that it runs)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="sd-turbo,sdxl-turbo", help="comma-separated subset to run")
    args = parser.parse_args()
    wanted = [(name, kind) for name, kind in MODELS if name in args.models.split(",")]
    if not wanted:
        parser.error(f"--models names none of {', '.join(name for name, _ in MODELS)}")

    import diffusers
    import torch
    from diffusers import AutoPipelineForText2Image

    from backend.doctor_models import build_tiny_sd
    from tests.tiny_pipelines import build_tiny_sdxl

    device = "cpu" if args.tiny else "cuda"
    dtype = torch.float32 if args.tiny else torch.float16
    size = 64 if args.tiny else 512
    if not args.tiny and not torch.cuda.is_available():
        sys.exit("no CUDA GPU: run with --tiny on a CPU")
    results = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
               "dtype": str(dtype).removeprefix("torch."), "size": size, "warmup": args.warmup,
               "repeats": args.repeats, "torch": torch.__version__, "diffusers": diffusers.__version__,
               # Without accelerate, from_pretrained initialises weights before loading: slower loads.
               "accelerate": importlib.util.find_spec("accelerate") is not None, "models": {}}
    bench_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="atelier-gpu-bench-") as tmp:
        server = ServeProcess(env={"HF_HUB_OFFLINE": "1", "ATELIER_DEVICE": device})
        results["hello_s"] = server.hello_s
        for name, kind in wanted:
            started = time.perf_counter()
            folder = Path(tmp) / f"{name}-random"
            if args.tiny:
                (build_tiny_sd if kind == "sd" else build_tiny_sdxl)(folder)
            else:
                build_full_size(kind, folder, device, dtype)
            built_s = time.perf_counter() - started
            started = time.perf_counter()
            pipe = AutoPipelineForText2Image.from_pretrained(str(folder), dtype=dtype, use_safetensors=True)
            pipe.to(device)
            pipe.set_progress_bar_config(disable=True)
            entry = {"build_s": built_s, "direct_load_s": time.perf_counter() - started,
                     **time_model(server, pipe, name, folder, size, Path(tmp), args)}
            results["models"][name] = entry
            del pipe
            server.run({"type": "unload", "id": f"unload-{name}"})
            if device == "cuda":
                torch.cuda.empty_cache()
        server.close()
    results["total_s"] = time.perf_counter() - bench_started

    print(f"{results['device']} {results['dtype']} {size}x{size}, median of {args.repeats} "
          f"(after {args.warmup} warmup), PNG written on both paths")
    print(f"serve start to hello: {results['hello_s'] * 1000:.0f} ms")
    print(f"{'model':12} {'steps':>5} {'direct ms':>10} {'backend ms':>11} {'overhead ms':>12}")
    for name, entry in results["models"].items():
        for steps in (1, 4):
            row = entry[f"{steps}_step"]
            print(f"{name:12} {steps:>5} {row['direct_ms']:>10.1f} {row['backend_ms']:>11.1f} "
                  f"{row['backend_ms'] - row['direct_ms']:>12.1f}")
    for name, entry in results["models"].items():
        print(f"{name}: build {entry['build_s']:.1f} s, direct load {entry['direct_load_s']:.1f} s, "
              f"backend first job (load) {entry['backend_first_job_s']:.1f} s")
    print(f"total {results['total_s']:.0f} s")
    Path(args.out_json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
