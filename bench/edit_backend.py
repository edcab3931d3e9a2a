"""Refine, inpaint and upscale through the backend against the direct diffusers calls, on the CPU.

Interleaves each edit through a warm ``serve`` process (the PNG written) with the same work in
this process: reading the picture, the diffusers call (``AutoPipelineForImage2Image`` or
``AutoPipelineForInpainting``), for inpaint the mask composite, writing the PNG. By default with
the tiny random-weight SD test model at 64 px, which times Atelier's own work around the model
rather than the model. Upscale runs with one tile as large as the result, so both paths make one
image-to-image call on the Lanczos-resized picture (a tile above the model's native size decodes
the VAE in tiles, on both paths). Reports medians and the backend/direct ratio.
Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/edit_backend.py [--size 64] [--repeats 5] [--json out.json]
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

from bench.maps_backend import picture  # noqa: E402
from bench.serve_client import ServeProcess  # noqa: E402

PROMPT = "mossy stone wall"
STEPS = 4
EDITS = ("refine", "inpaint", "upscale")


def mask_file(path: Path, size: int) -> Path:
    """A greyscale mask: a white square in the middle quarter."""
    import numpy as np
    from PIL import Image

    mask = np.zeros((size, size), np.uint8)
    mask[size // 4:size * 3 // 4, size // 4:size * 3 // 4] = 255
    Image.fromarray(mask).save(path)
    return path


def requests(kind: str, image: Path, mask: Path, size: int, model: Path, out: Path) -> dict:
    """The served request of one edit."""
    common = {"type": kind, "image": str(image), "prompt": PROMPT, "model": str(model), "steps": STEPS,
              "seed": 1, "output_dir": str(out), "device": "cpu"}
    extra = {"refine": {"strength": 0.5}, "inpaint": {"mask": str(mask)},
             "upscale": {"factor": 2, "tile": 2 * size}}
    return {**common, **extra[kind]}


def direct(kind: str, pipes: dict, image: Path, mask: Path, out: Path) -> None:
    """The same edit made in this process with diffusers, the PNG written."""
    import numpy as np
    import torch
    from PIL import Image

    from core.image_edit import composite

    generator = torch.Generator("cpu").manual_seed(1)
    source = Image.open(image).convert("RGB")
    if kind == "inpaint":
        painted = Image.open(mask).convert("L")
        made = pipes["inpaint"](prompt=PROMPT, image=source, mask_image=painted, num_inference_steps=STEPS,
                                width=source.width, height=source.height, generator=generator).images[0]
        made = Image.fromarray(composite(np.asarray(source), np.asarray(made), np.asarray(painted) / 255.0))
    else:
        pipe = pipes["image2image"]
        native = pipe.unet.config.sample_size * pipe.vae_scale_factor
        tiled = kind == "upscale" and 2 * source.width > native  # as the backend decodes such a tile
        if kind == "upscale":
            source = source.resize((2 * source.width, 2 * source.height), Image.Resampling.LANCZOS)
        strength = 0.5 if kind == "refine" else 0.3
        if tiled:
            pipe.vae.enable_tiling()
        try:
            made = pipe(prompt=PROMPT, image=source, strength=strength, num_inference_steps=STEPS,
                        generator=generator).images[0]
        finally:
            pipe.vae.disable_tiling()
    made.save(out / f"{kind}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=64, help="picture side in pixels (a multiple of 8)")
    parser.add_argument("--model", help="a diffusers folder (default: the tiny random-weight SD model)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    import diffusers
    import torch

    from backend.doctor_models import build_tiny_sd

    torch.set_num_threads(1)  # the backend below runs on one thread too (OMP_NUM_THREADS)
    results = {"repeats": args.repeats, "size": args.size, "steps": STEPS, "torch": torch.__version__,
               "edits": {}}
    with tempfile.TemporaryDirectory(prefix="atelier-edit-bench-") as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else build_tiny_sd(tmp / "tiny-sd")
        pipes = {name: getattr(diffusers, f"AutoPipelineFor{cls}").from_pretrained(
            str(model), dtype=torch.float32, use_safetensors=True)
            for name, cls in (("image2image", "Image2Image"), ("inpaint", "Inpainting"))}
        for pipe in pipes.values():
            pipe.set_progress_bar_config(disable=True)
        image = picture(tmp / "picture.png", args.size)
        mask = mask_file(tmp / "mask.png", args.size)
        (tmp / "direct").mkdir()
        server = ServeProcess(env={"HF_HUB_OFFLINE": "1", "ATELIER_DEVICE": "cpu", "OMP_NUM_THREADS": "1"})
        counter = iter(range(10**6))

        def served(request: dict) -> float:
            event, seconds = server.run({**request, "id": f"e{next(counter)}"})
            if event["type"] != "result":
                raise RuntimeError(event)
            return seconds

        def timed_direct(kind: str) -> float:
            started = time.perf_counter()
            direct(kind, pipes, image, mask, tmp / "direct")
            return time.perf_counter() - started

        for kind in EDITS:
            request = requests(kind, image, mask, args.size, model, tmp / "served")
            served(request)  # the first job loads the model into the backend
            timed_direct(kind)
            times = {"backend": [], "direct": []}
            for _ in range(args.repeats):
                times["backend"].append(served(request))
                times["direct"].append(timed_direct(kind))
            results["edits"][kind] = {name: round(1000 * statistics.median(values), 1)
                                      for name, values in times.items()}
        server.close()

    print(f"{args.size} px picture, {STEPS} steps, median of {args.repeats} (CPU, one thread), PNG written")
    print(f"{'edit':8} {'direct ms':>10} {'backend ms':>11} {'ratio':>6}")
    for kind, row in results["edits"].items():
        row["ratio"] = round(row["backend"] / row["direct"], 2)
        print(f"{kind:8} {row['direct']:>10.1f} {row['backend']:>11.1f} {row['ratio']:>6.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
