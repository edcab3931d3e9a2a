"""Refine, inpaint and upscale on a GPU: the task code in-process against the direct diffusers calls.

Builds SD-Turbo and SDXL-Turbo as full-size architectures from their published configs with
random weights (``bench/gpu_turbo.py``; speed does not depend on weight values, nothing is
downloaded) and times, in fp16 at 512 px: refine (strength 0.5, 4 steps), inpaint (a centred
square, 4 steps) and upscale x2 to 1024 px (strength 0.3, 512 px tiles), each through the task
code in this process (``backend.tasks.*.run``: reading the picture, the pipeline call, the
composite, the PNG) and as the direct diffusers call (``AutoPipelineForImage2Image`` /
``AutoPipelineForInpainting`` on the same picture, for upscale one call on the Lanczos-resized
picture, PNG written). Upscale x4 to 2048 px and x4 from 1024 to 4096 px (the largest result,
where the tiles and the tiled VAE decode keep memory bounded) are timed once through the task
only, with their peak GPU memory (``torch.cuda.max_memory_allocated``) and that peak above the
memory held before (the loaded models). Each figure is printed when measured, quick ones first;
it stops adding measurements after ``--budget-s`` (360 s by default), so it ends within 8
minutes with the models built.

    HF_HUB_OFFLINE=1 python bench/gpu_edit.py --json gpu_edit.json   # a CUDA GPU, fp16
    HF_HUB_OFFLINE=1 .venv/bin/python bench/gpu_edit.py --smoke      # tiny models on the CPU
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import gpu_setup  # noqa: E402
from bench.gpu_maps import Clock, texture  # noqa: E402

PROMPT = "mossy stone wall"
STEPS = 4


def write_inputs(folder: Path, size: int) -> tuple[Path, Path]:
    """The picture (a size x size PNG) and a mask with a white centred square."""
    import numpy as np
    from PIL import Image

    image = folder / f"picture-{size}.png"
    Image.fromarray(np.rint(texture(size) * 255).astype(np.uint8)).save(image)
    mask = np.zeros((size, size), np.uint8)
    mask[size // 4:size * 3 // 4, size // 4:size * 3 // 4] = 255
    mask_path = folder / f"mask-{size}.png"
    Image.fromarray(mask).save(mask_path)
    return image, mask_path


def task_runner(kind: str, folder: Path, device: str, image: Path, mask: Path, out: Path, cache, **fields):
    """A function that runs one edit through the task code in this process."""
    import importlib

    from backend.task_context import JobContext
    from core import protocol

    cls = {"refine": protocol.RefineRequest, "inpaint": protocol.InpaintRequest,
           "upscale": protocol.UpscaleRequest}[kind]
    task = importlib.import_module(f"backend.tasks.{kind}")
    extra = {"mask": str(mask)} if kind == "inpaint" else {}

    def run():
        request = cls(id=kind, image=str(image), prompt=PROMPT, model=str(folder), steps=STEPS, guidance=0.0,
                      seed=1, device=device, output_dir=str(out), **extra, **fields)
        task.run(request, JobContext(request, cache))

    return run


def direct_runner(kind: str, pipes: dict, image: Path, mask: Path, out: Path, factor: int = 2):
    """A function that makes the same edit with diffusers alone (PNG written)."""
    import torch
    from PIL import Image

    source = Image.open(image).convert("RGB")
    painted = Image.open(mask).convert("L")
    if kind == "upscale":
        source = source.resize((factor * source.width, factor * source.height), Image.Resampling.LANCZOS)

    def run():
        generator = torch.Generator("cpu").manual_seed(1)
        if kind == "inpaint":
            settings = {"num_inference_steps": STEPS, "guidance_scale": 0.0, "generator": generator,
                        "width": source.width, "height": source.height}  # else the model's native size
            made = pipes["inpaint"](prompt=PROMPT, image=source, mask_image=painted, **settings).images[0]
        else:
            made = pipes["image2image"](
                prompt=PROMPT, image=source, strength=0.5 if kind == "refine" else 0.3,
                num_inference_steps=STEPS, guidance_scale=0.0, generator=generator).images[0]
        made.save(out / f"direct-{kind}.png")

    return run


def peak_run(clock, name: str, work, device: str) -> dict:
    """One timed run of ``work`` with its peak GPU memory, in GiB: all of it and the part above
    what was allocated before (on the CPU: the time only)."""
    import torch

    before = torch.cuda.memory_allocated() if device == "cuda" else 0
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    row = {"task_ms": clock.median_ms(name, work)}
    if device == "cuda" and row["task_ms"] is not None:
        peak = torch.cuda.max_memory_allocated()
        row.update(peak_gib=round(peak / 2**30, 2), above_models_gib=round((peak - before) / 2**30, 2))
    show(name, row)
    return row


def show(name: str, row: dict) -> None:
    """A figure as soon as it is measured (a run cut short still leaves the first ones)."""
    cells = ", ".join(f"{key} {'skipped' if value is None else value}" for key, value in row.items())
    print(f"{name}: {cells}", flush=True)


def main() -> None:
    parser = gpu_setup.parser(__doc__.splitlines()[0], "--smoke")
    args = parser.parse_args()
    wanted = gpu_setup.wanted_models(parser, args)

    import diffusers
    import torch

    from backend.model_cache import ModelCache

    started = time.perf_counter()
    device, dtype = gpu_setup.device_and_dtype(args.tiny, "--smoke")
    size = 64 if args.tiny else 512
    clock = Clock(device, args.warmup, args.repeats, args.budget_s)
    once = Clock(device, 0, 1, args.budget_s)  # the large upscales: one run each, same deadline
    results = gpu_setup.results_header(device, dtype, size, STEPS, args)
    with tempfile.TemporaryDirectory(prefix="atelier-gpu-edit-") as tmp:
        tmp = Path(tmp)
        image, mask = write_inputs(tmp, size)
        large, _ = write_inputs(tmp, 2 * size)  # upscaled x4 to 4096 px on the GPU
        for name, kind in wanted:
            built = time.perf_counter()
            folder = gpu_setup.build_pipeline(kind, tmp / f"{name}-random", args.tiny, device, dtype)
            text2image = diffusers.AutoPipelineForText2Image.from_pretrained(
                str(folder), dtype=dtype, use_safetensors=True).to(device)
            pipes = {"image2image": diffusers.AutoPipelineForImage2Image.from_pipe(text2image),
                     "inpaint": diffusers.AutoPipelineForInpainting.from_pipe(text2image)}
            for pipe in pipes.values():
                pipe.set_progress_bar_config(disable=True)
            entry = {"build_s": round(time.perf_counter() - built, 1)}
            cache = ModelCache()  # the task path loads its own copy, as the backend does
            for edit in ("refine", "inpaint", "upscale"):
                row = {}
                for path, runner in (
                        ("task", task_runner(edit, folder, device, image, mask, tmp, cache)),
                        ("direct", direct_runner(edit, pipes, image, mask, tmp))):
                    row[f"{path}_ms"] = clock.median_ms(f"{name} {edit} {path}", runner)
                if None not in row.values():
                    row["ratio"] = round(row["task_ms"] / row["direct_ms"], 3)
                entry[edit] = row
                show(f"{name} {edit}", row)
            for label, picture in ((f"x4_to_{4 * size}", image), (f"x4_to_{8 * size}", large)):
                entry[f"upscale_{label}"] = peak_run(
                    once, f"{name} upscale {label.replace('_', ' ')} px",
                    task_runner("upscale", folder, device, picture, mask, tmp, cache, factor=4), device)
            results["models"][name] = entry
            del text2image, pipes, cache
            if device == "cuda":
                torch.cuda.empty_cache()
    results["skipped_for_time"] = clock.skipped + once.skipped
    results["total_s"] = round(time.perf_counter() - started, 1)

    print(f"{results['device']} {results['dtype']} {size} px, {STEPS} steps, median of {args.repeats} "
          f"after {args.warmup} warm-up, PNG written on both paths")
    print(f"{'model':12} {'edit':8} {'direct ms':>10} {'task ms':>10} {'ratio':>6}")
    for name, entry in results["models"].items():
        for edit in ("refine", "inpaint", "upscale"):
            row = entry[edit]
            cells = [f"{row[key]:10.1f}" if row.get(key) is not None else f"{'skipped':>10}"
                     for key in ("direct_ms", "task_ms")]
            print(f"{name:12} {edit:8} {cells[0]} {cells[1]} {row.get('ratio', float('nan')):6.2f}")
        for side in (4 * size, 8 * size):
            row = entry[f"upscale_x4_to_{side}"]
            took = "skipped" if row["task_ms"] is None else f"{row['task_ms']:.0f} ms"
            memory = (f", peak {row['peak_gib']} GiB ({row['above_models_gib']} GiB above the models)"
                      if "peak_gib" in row else "")
            print(f"{name:12} upscale x4 to {side} px: {took}{memory}")
        print(f"{name:12} built in {entry['build_s']} s")
    print(f"total {results['total_s']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
