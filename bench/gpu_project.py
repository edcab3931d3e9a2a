"""Projection generation on a GPU: 1, 4 and 8 views through the ``project`` task code.

Builds SD-Turbo and SDXL-Turbo as full-size architectures from their published configs with
random weights (``bench/gpu_turbo.py``; speed does not depend on weight values, nothing is
downloaded) and a full-size depth ControlNet from each UNet (``ControlNetModel.from_unet``),
then times, in fp16 at 512 px (1 step, as Turbo runs): one view as the first view
(ControlNet text-to-image) and one later view (ControlNet inpainting of the unpainted half,
composited), each through the task code in this process (``backend.tasks.project.run``:
reading the depth image, picture and mask, the pipeline call, the composite, the PNG) and as
the direct diffusers call; then 1, 4 and 8 views in a row as a projection sends them (the
first view, then later views), the generation part of "button to material" (Blender's part,
render, project and bake, is measured on the CPU by ``bench/project_blender.py``). Each figure
is printed when measured; it stops adding measurements, and builds no further model, after
``--budget-s`` (360 s by default), so it ends within 8 minutes. With ``--blender-ms VIEWS=MS``
(``bench/project_blender.py``'s total) it prints their sum as button to material.

    HF_HUB_OFFLINE=1 python bench/gpu_project.py --json gpu_project.json   # a CUDA GPU, fp16
    HF_HUB_OFFLINE=1 python bench/gpu_project.py --blender-ms 4=850      # + Blender's 4-view total
    HF_HUB_OFFLINE=1 .venv/bin/python bench/gpu_project.py --tiny         # tiny models on the CPU
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import gpu_setup  # noqa: E402
from bench.gpu_edit import show  # noqa: E402
from bench.gpu_maps import Clock, texture  # noqa: E402

PROMPT = "mossy stone wall"
VIEW_COUNTS = (1, 4, 8)


def write_inputs(folder: Path, size: int) -> dict[str, Path]:
    """A view's files at ``size``: depth (a sphere's front, near bright), the texture so far
    and a mask with the right half unpainted (white)."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:size, 0:size] / size
    nearness = np.sqrt(np.clip(1 - ((x - 0.5) ** 2 + (y - 0.5) ** 2) / 0.16, 0, 1))
    mask = np.zeros((size, size), np.uint8)
    mask[:, size // 2:] = 255
    files = {"depth": np.where(nearness > 0, np.rint(60 + 195 * nearness), 0).astype(np.uint8),
             "picture": np.rint(texture(size) * 255).astype(np.uint8), "mask": mask}
    for name, pixels in files.items():
        Image.fromarray(pixels).save(folder / f"{name}.png")
    return {name: folder / f"{name}.png" for name in files}


def build_controlnet(model: Path, folder: Path, tiny: bool, xl: bool) -> Path:
    """A depth ControlNet for the pipeline in ``model``: made from its UNet (full size), or the
    tests' tiny one."""
    if tiny:
        from tiny_pipelines import build_tiny_controlnet

        return build_tiny_controlnet(folder, for_sdxl=xl)
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(model / "unet", use_safetensors=True)
    ControlNetModel.from_unet(unet).save_pretrained(folder, safe_serialization=True)
    return folder


def view_runner(model: Path, controlnet: Path, files: dict, device: str, out: Path, cache, later: bool):
    """A function that paints one view through the task code in this process."""
    from backend.task_context import JobContext
    from backend.tasks import project
    from core import protocol

    extra = {"image": str(files["picture"]), "mask": str(files["mask"])} if later else {}

    def run():
        request = protocol.ProjectRequest(id="view", prompt=PROMPT, control_image=str(files["depth"]),
                                          model=str(model), control_model=str(controlnet), seed=1,
                                          device=device, output_dir=str(out), **extra)
        project.run(request, JobContext(request, cache))

    return run


def direct_runner(pipes: dict, files: dict, later: bool):
    """A function that paints the same view with diffusers alone (1 step, no PNG)."""
    import torch
    from PIL import Image

    control = Image.open(files["depth"]).convert("RGB")
    settings = {"num_inference_steps": 1, "guidance_scale": 0.0, "width": control.width,
                "height": control.height}

    def run():
        generator = torch.Generator("cpu").manual_seed(1)
        if later:
            pipes["inpaint"](prompt=PROMPT, image=Image.open(files["picture"]).convert("RGB"),
                             mask_image=Image.open(files["mask"]), control_image=control, strength=1.0,
                             generator=generator, **settings)
        else:
            pipes["first"](prompt=PROMPT, image=control, generator=generator, **settings)

    return run


def views_runner(first, later, count: int):
    """A projection's generation: the first view, then ``count - 1`` later views."""
    def run():
        first()
        for _ in range(count - 1):
            later()

    return run


def blender_figures(values: list[str], parser) -> dict[int, float]:
    """``--blender-ms VIEWS=MS`` values (``bench/project_blender.py``'s total for that many
    views) as {views: ms}."""
    figures = {}
    for value in values:
        views, _, ms = value.partition("=")
        try:
            figures[int(views)] = float(ms)
        except ValueError:
            parser.error(f"--blender-ms {value!r}: give views=ms, e.g. 4=850")
    return figures


def main() -> None:
    parser = gpu_setup.parser(__doc__.splitlines()[0], "--tiny")
    parser.add_argument("--blender-ms", action="append", default=[], metavar="VIEWS=MS",
                        help="Blender's part for that many views (bench/project_blender.py's total): "
                             "printed with generation as button to material; repeatable")
    args = parser.parse_args()
    wanted = gpu_setup.wanted_models(parser, args)
    blender_ms = blender_figures(args.blender_ms, parser)

    import diffusers
    import torch

    from backend.model_cache import ModelCache

    started = time.perf_counter()
    device, dtype = gpu_setup.device_and_dtype(args.tiny, "--tiny")
    size = 64 if args.tiny else 512
    clock = Clock(device, args.warmup, args.repeats, args.budget_s)
    results = gpu_setup.results_header(device, dtype, size, 1, args)
    with tempfile.TemporaryDirectory(prefix="atelier-gpu-project-") as tmp:
        tmp = Path(tmp)
        files = write_inputs(tmp, size)
        for name, kind in wanted:
            if time.perf_counter() > clock.deadline:  # a build takes minutes: none past the budget
                clock.skipped.append(f"{name} (not built)")
                continue
            built = time.perf_counter()
            # "turbo" in the name: the family's 1 step, no guidance.
            folder = gpu_setup.build_pipeline(kind, tmp / f"{name}-random", args.tiny, device, dtype)
            controlnet = build_controlnet(folder, tmp / f"{name}-controlnet", args.tiny, kind == "sdxl")
            text2image = diffusers.AutoPipelineForText2Image.from_pretrained(
                str(folder), dtype=dtype, use_safetensors=True).to(device)
            control = diffusers.ControlNetModel.from_pretrained(str(controlnet), dtype=dtype,
                                                                use_safetensors=True).to(device)
            pipes = {"first": diffusers.AutoPipelineForText2Image.from_pipe(text2image, controlnet=control),
                     "inpaint": diffusers.AutoPipelineForInpainting.from_pipe(text2image, controlnet=control)}
            for pipe in pipes.values():
                pipe.set_progress_bar_config(disable=True)
            entry = {"build_s": round(time.perf_counter() - built, 1)}
            cache = ModelCache()  # the task path loads its own copy, as the backend does
            tasks = {view: view_runner(folder, controlnet, files, device, tmp, cache, view == "later")
                     for view in ("first", "later")}
            for view, task in tasks.items():
                row = {"task_ms": clock.median_ms(f"{name} {view} view task", task),
                       "direct_ms": clock.median_ms(f"{name} {view} view direct",
                                                    direct_runner(pipes, files, view == "later"))}
                if None not in row.values():
                    row["ratio"] = round(row["task_ms"] / row["direct_ms"], 3)
                entry[f"{view}_view"] = row
                show(f"{name} {view} view", row)
            for count in VIEW_COUNTS:
                row = {"task_ms": clock.median_ms(f"{name} {count} views",
                                                  views_runner(tasks["first"], tasks["later"], count))}
                entry[f"views_{count}"] = row
                show(f"{name} {count} view{'s' * (count > 1)}", row)
            results["models"][name] = entry
            del text2image, control, pipes, cache
            if device == "cuda":
                torch.cuda.empty_cache()
    results["skipped_for_time"] = clock.skipped
    results["total_s"] = round(time.perf_counter() - started, 1)

    print(f"{results['device']} {results['dtype']} {size} px views, 1 step, median of {args.repeats} after "
          f"{args.warmup} warm-up, PNG written on the task path")
    print(f"{'model':12} {'views':>5} {'generation ms':>14}")
    for name, entry in results["models"].items():
        for count in VIEW_COUNTS:
            value = entry[f"views_{count}"]["task_ms"]
            print(f"{name:12} {count:5d} {'skipped' if value is None else f'{value:.1f}':>14}")
            if value is not None and count in blender_ms:
                total = value + blender_ms[count]
                entry[f"views_{count}"]["button_to_material_ms"] = round(total, 1)
                print(f"button to material, {name} {count} views: generation {value:.0f} ms + Blender "
                      f"{blender_ms[count]:.0f} ms = {total:.0f} ms")
    print(f"total {results['total_s']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
