"""How far the fast path's textures are from the eager ones on the CPU, in PSNR (dB).

Tiny random SD and SDXL models (the tests' shapes), fp32, the fast path on without compiling
(``ATELIER_FAST=on``, ``ATELIER_COMPILE=0``: SDPA, fused QKV projections, channels-last weights)
against ``ATELIER_FAST=off`` with the same seed, through the texture task. Prints the lowest PSNR
per model and every value; the tests' bound (tests/pipeline_jobs.py) comes from it. On the GPU,
in fp16 and with compiling, bench/gpu_fast.py measures the same. Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/fast_path_cpu.py [--seeds 4] [--sizes 64 128]

``--compile FOLDER`` instead times the compile warm-up of the tiny SD model (UNet and VAE decoder,
64 px, guidance on) with inductor, keeping compiled code in FOLDER: run it twice, the second run
loads from the on-disk cache.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the tests' tiny model builders


def texture_pixels(model: Path, out_dir: Path, fast: str, seed: int, size: int):
    import numpy as np
    from PIL import Image

    from backend.model_cache import ModelCache
    from backend.task_context import JobContext
    from backend.tasks import texture
    from core import protocol

    os.environ.update(ATELIER_FAST=fast, ATELIER_COMPILE="0")
    request = protocol.TextureRequest(id="fast-bench", prompt=f"texture number {seed}", model=str(model),
                                      width=size, height=size, steps=4, seed=seed, device="cpu",
                                      output_dir=str(out_dir))
    output = texture.run(request, JobContext(request, ModelCache()))  # a new cache: loaded as set
    return np.asarray(Image.open(output.files[0].path).convert("RGB"))


def time_compile(model: Path, cache: Path) -> None:
    import time

    from diffusers import AutoPipelineForText2Image

    from backend import fast_path, torch_compile

    pipe = AutoPipelineForText2Image.from_pretrained(str(model))
    pipe.set_progress_bar_config(disable=True)
    torch_compile.use_cache(cache.resolve())
    fast_path.speed_up(pipe, "cpu", fast_path.Settings(True, fast_path.OTHER_COMPILE_MODE))
    started = time.perf_counter()
    fast_path.warm_up(pipe, 64, 64, lambda width, height: pipe(
        prompt="", width=width, height=height, num_inference_steps=fast_path.WARM_UP_STEPS,
        guidance_scale=7.5, output_type="pt"), variant=(True,))
    print(f"compile warm-up: {time.perf_counter() - started:.1f} s wall, {time.process_time():.1f} s CPU "
          f"in this process; compiled code in {cache}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--compile", type=Path, metavar="FOLDER", help="time compiling, cache in FOLDER")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from tiny_pipelines import build_tiny_sdxl

    from backend.doctor_models import build_tiny_sd
    from bench.gpu_setup import psnr_db

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="atelier-fast-bench-") as scratch:
        folder = Path(scratch)
        if args.compile:
            time_compile(build_tiny_sd(folder / "sd"), args.compile)
            return
        models = {"sd": build_tiny_sd(folder / "sd"), "sdxl": build_tiny_sdxl(folder / "sdxl")}
        for name, model in models.items():
            values = [psnr_db(texture_pixels(model, folder, "on", seed, size),
                              texture_pixels(model, folder, "off", seed, size))
                      for seed in range(args.seeds) for size in args.sizes]
            print(f"{name}: lowest {min(values):.1f} dB; all {', '.join(f'{v:.1f}' for v in values)}")


if __name__ == "__main__":
    main()
