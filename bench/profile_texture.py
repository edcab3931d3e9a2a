"""Where the time goes from the click to the material, stage by stage, for a texture and a preview.

Runs the backend's texture task in this process (``backend.tasks.texture.run`` with a job
context and model cache, as ``serve`` does; the pipe itself costs ~1 ms, see
bench/backend_overhead.py) with timing hooks on the pipeline's parts and file writers, then
Blender's side with the ``bpy`` module and Atelier installed as an extension, through Atelier's
own apply functions. Three paths are reported:

- generate (the UI): full VAE; the finished pixels are written raw and handed over in an
  ``image`` event (``early_pixels``), Blender reads them and puts the material on with
  ``foreach_set``: that is the click to the material. The PNG with provenance is written after
  the image event, and Blender loads and packs it and swaps it in for the early Image
  (``finish_early``): reported apart, after the material is shown (off the critical path);
- generate, blender -b: the PNG (the chosen zlib level; Pillow's default 6 compared) is the
  hand-over, loaded and packed by Blender before the material is made (no early pixels);
- preview: tiny autoencoder, raw RGBA bytes, ``foreach_set`` into an existing Image.

Tiny random-weight models on the CPU: the shape of the breakdown and Blender's side, not a
GPU's model times (bench/gpu_turbo.py times full-size architectures on a GPU; add Blender's
side from here). The CPU is shared with whatever else runs, so read figures within a run.
Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/profile_texture.py [--size 512] [--steps 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_REPO = "atelier_bench"  # the extension repository Blender's side is installed in
PROMPT = "mossy stone wall"
# Stage names shared by the measurements and the tables.
PNG_WRITE = "PNG encode+write (Atelier's level)"
REST = "rest of the job (latents, scheduler, image, record)"
RAW_READ = "Blender: raw read (numpy, rows flipped)"
EARLY_MATERIAL = "Blender: new Image + foreach_set + material (early)"
PNG_SWAP = "Blender: PNG load + pack + swap (finish_early)"
PNG_APPLY = ("Blender: PNG load + pack (images.load)", "Blender: new material + assign")


class StageTimer:
    """Milliseconds spent in each stage, collected by hooks on the pipeline's parts."""

    def __init__(self, synchronize) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self._sync = synchronize  # waits for queued GPU work, so a stage's time is its own
        self._undo: list = []

    def hook_module(self, module, stage: str) -> None:
        """Time every forward call of ``module`` as ``stage``."""
        started = {}

        def before(_module, _args):
            self._sync()
            started["t"] = time.perf_counter()

        def after(_module, _args, _output):
            self._sync()
            self.ms[stage] += (time.perf_counter() - started["t"]) * 1000

        self._undo += [module.register_forward_pre_hook(before).remove,
                       module.register_forward_hook(after).remove]

    def hook_method(self, owner, name: str, stage: str) -> None:
        """Time every call of ``owner.name`` (e.g. a VAE's ``decode``, which is no forward)."""
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            self._sync()
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._sync()
                self.ms[stage] += (time.perf_counter() - started) * 1000

        own = name in vars(owner)  # a module's function, not a method an instance looks up
        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original) if own else delattr(owner, name))

    def take(self) -> dict[str, float]:
        """The times collected since the last ``take``."""
        taken, self.ms = dict(self.ms), defaultdict(float)
        return taken

    def remove(self) -> None:
        for undo in reversed(self._undo):
            undo()


def build_models(folder: Path) -> tuple[Path, Path]:
    """A tiny random-weight SD model and a tiny random-weight autoencoder (TAESD-shaped) for it."""
    from backend.doctor_models import build_tiny_sd
    from tests.tiny_pipelines import build_tiny_autoencoder

    return build_tiny_sd(folder / "tiny-sd"), build_tiny_autoencoder(folder / "tiny-autoencoder")


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run whose whole job took the median time: its stages add up, as one click's do."""
    return sorted(runs, key=lambda run: run["_job"])[len(runs) // 2]


def profile_backend(model: Path, tiny: Path, folder: Path, args) -> tuple[dict, dict, dict]:
    """The median job's stage times for a texture (with early pixels) and for a preview, the file
    write times, and the last texture's and preview's output, parsed result and early pixels."""
    import torch

    from backend.model_cache import ModelCache
    from backend.task_context import JobContext
    from backend.tasks import texture
    from backend.tiny_autoencoder import KIND, load_tiny_autoencoder
    from core import protocol
    from core.results import parse_early_pixels, parse_result
    from core.tiny_autoencoders import TINY_AUTOENCODER_ENV

    os.environ[TINY_AUTOENCODER_ENV] = str(tiny)
    cache = ModelCache()
    synchronize = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    timer = StageTimer(synchronize)
    counter = iter(range(10**6))

    def job(emit=None, **fields):
        request = protocol.TextureRequest(
            id=f"profile-{next(counter)}", prompt=PROMPT, output_dir=str(folder),
            model=str(model), width=args.size, height=args.size, steps=args.steps, guidance=0.0, seed=7,
            device=args.device, **fields)
        return request, JobContext(request, cache, emit=emit)

    _, context = job()
    pipe = context.load("texture", str(model), texture.load_pipeline)
    tiny_vae = context.load(KIND, str(tiny), load_tiny_autoencoder)
    for part in ("text_encoder", "text_encoder_2"):
        if getattr(pipe, part, None) is not None:
            timer.hook_module(getattr(pipe, part), "text encoder")
    timer.hook_module(pipe.unet, f"denoiser ({args.steps} step{'s' * (args.steps > 1)})")
    timer.hook_method(pipe.vae, "decode", "VAE decode (full)")
    timer.hook_method(tiny_vae, "decode", "VAE decode (tiny)")
    timer.hook_method(texture, "write_rgba", "raw RGBA write")
    timer.hook_method(texture, "write_png", PNG_WRITE)

    def one(kind: str) -> tuple[dict, object, object, object]:
        images = []  # (ms since the start, the image event) as the job emits them

        def emit(event):
            if isinstance(event, protocol.ImageEvent):
                images.append(((time.perf_counter() - started) * 1000, event))

        request, context = job(emit, preview=kind == "preview", tiny_autoencoder=kind == "preview",
                               early_pixels=kind == "generate")
        synchronize()
        started = time.perf_counter()
        output = texture.run(request, context)
        total = (time.perf_counter() - started) * 1000
        stages = timer.take()
        early = None
        if images:
            stages["_image"], event = images[0]
            line = protocol.encode(event)
            handed = time.perf_counter()
            early = parse_early_pixels(protocol.decode_event(line), context.job_dir())
            stages["hand-over (image line + parse)"] = (time.perf_counter() - handed) * 1000
        line = protocol.encode(protocol.ResultEvent(id=request.id, files=output.files,
                                                    metadata=output.metadata, data=output.data))
        handed = time.perf_counter()
        result = parse_result("texture", protocol.decode_event(line), context.job_dir())
        stages["hand-over (result line + parse)"] = (time.perf_counter() - handed) * 1000
        return stages | {"_job": total}, output, result, early

    runs: dict[str, list] = {"generate": [], "preview": []}
    last = {}
    for index in range(args.warmup + args.repeats):
        for kind in runs:
            stages, output, result, early = one(kind)
            if index >= args.warmup:
                runs[kind].append(stages)
            last[kind] = (output, result, early)
    timer.remove()

    # File writing, timed apart on the image the last texture job made, repeated (the jobs' own
    # writes are in their stages): PNG at Pillow's default level and at Atelier's, raw RGBA bytes.
    from PIL import Image

    texture_output = last["generate"][0]
    image = Image.open(texture_output.files[0].path)
    image.load()
    record = texture_output.metadata
    writes = {}
    for name, path, write in (
            ("PNG encode+write (level 6, Pillow's default)", folder / "level6.png",
             lambda path: texture.write_png(image, path, record, compress_level=6)),
            (f"PNG encode+write (level {texture.PNG_COMPRESS_LEVEL}, Atelier)", folder / "chosen.png",
             lambda path: texture.write_png(image, path, record)),
            ("raw RGBA write", folder / "raw.rgba", lambda path: texture.write_rgba(image, path))):
        times = []
        for _ in range(args.repeats + 1):
            path.unlink(missing_ok=True)  # the writer makes a new file, as a job does
            started = time.perf_counter()
            write(path)
            times.append((time.perf_counter() - started) * 1000)
        writes[name] = statistics.median(times[1:])
    writes["_png_kib"] = {level: (folder / f"{name}.png").stat().st_size / 1024
                          for level, name in ((6, "level6"), (texture.PNG_COMPRESS_LEVEL, "chosen"))}
    return {kind: median_run(kind_runs) for kind, kind_runs in runs.items()}, writes, last


def png_levels(folder: Path, repeats: int) -> list[dict]:
    """PNG encode+write time and size by zlib level on a noise-like and a smooth texture-like
    image at 512 and 1024 px: random-weight models make noise, real textures are smoother."""
    import numpy as np
    from PIL import Image

    from backend.tasks import texture

    rng = np.random.default_rng(0)
    rows = []
    for size in (512, 1024):
        y, x = np.mgrid[0:size, 0:size] / size
        smooth = np.stack([np.sin(6 * x + 3 * y), np.cos(5 * y + 2 * x), np.sin(9 * x * y)], -1) * 0.35 + 0.5
        smooth += rng.normal(0, 0.01, smooth.shape)  # a little grain, as in a generated texture
        pictures = {"noise": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                    "smooth": (np.clip(smooth, 0, 1) * 255).astype(np.uint8)}
        for kind, pixels in pictures.items():
            image = Image.fromarray(pixels)
            for level in (0, texture.PNG_COMPRESS_LEVEL, 6, 9):
                path = folder / f"levels-{size}-{kind}-{level}.png"
                times = []
                for _ in range(repeats):
                    path.unlink(missing_ok=True)  # the writer makes a new file, as a job does
                    started = time.perf_counter()
                    texture.write_png(image, path, {}, compress_level=level)
                    times.append((time.perf_counter() - started) * 1000)
                rows.append({"size": size, "image": kind, "level": level, "ms": statistics.median(times),
                             "kib": path.stat().st_size / 1024})
    return rows


def profile_blender(last: dict, repeats: int) -> dict[str, float]:
    """Blender's side, with Atelier's own apply functions: the early pixels read and put on a
    plane as a new Image and material (``show_early``), the PNG swapped in for them
    (``finish_early``); the PNG loaded and packed with a new material (``blender -b``); a
    preview's raw bytes put into the one preview Image."""
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="atelier-bench-blender-")
    import bpy

    addon_utils = importlib.import_module("addon_utils")  # there once bpy is imported

    repo_dir = Path(tempfile.mkdtemp(prefix="atelier-bench-extensions-"))
    (repo_dir / "atelier").symlink_to(ROOT, target_is_directory=True)
    bpy.context.preferences.extensions.repos.new(name="Atelier bench", module=BENCH_REPO,
                                                 custom_directory=str(repo_dir), source="USER")
    package = f"bl_ext.{BENCH_REPO}.atelier"
    addon_utils.enable(package, default_set=False)
    apply_texture = importlib.import_module(f"{package}.apply.texture")
    early_texture = importlib.import_module(f"{package}.apply.early_texture")
    live_preview = importlib.import_module(f"{package}.apply.live_preview")
    raw_pixels = importlib.import_module(f"{package}.apply.raw_pixels")
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_plane_add()
    plane = bpy.context.active_object

    _, texture_result, early = last["generate"]
    preview_result = last["preview"][1]
    parameters = apply_texture.TextureParameters(prompt=PROMPT, width=early.width, height=early.height)
    times = defaultdict(list)
    live_preview.attach(plane)
    for index in range(repeats + 1):  # the first round creates the preview's Image and material
        started = time.perf_counter()
        raw_pixels.read_pixels(early.pixels, early.width, early.height)
        read = time.perf_counter()
        shown = early_texture.show_early(early.pixels, early.width, early.height, parameters,
                                         [plane.name])
        put_on = time.perf_counter()
        early_texture.finish_early(shown, texture_result, parameters, [plane.name], "PACK")
        swapped = time.perf_counter()
        if index:
            times["_early_read"].append((read - started) * 1000)
            times["_show_early"].append((put_on - read) * 1000)  # the raw read again, and the rest
            times[PNG_SWAP].append((swapped - put_on) * 1000)
        started = time.perf_counter()
        image = apply_texture.load_image(texture_result.base_color, f"bench {index}", "PACK", [])
        loaded = time.perf_counter()
        material = apply_texture.build_material(f"bench {index}", image, box_projection=False)
        apply_texture.assign_material(plane, material, [])
        assigned = time.perf_counter()
        pixels = raw_pixels.read_pixels(preview_result.pixels, preview_result.width, preview_result.height)
        read = time.perf_counter()
        live_preview.show(pixels, preview_result.width, preview_result.height)
        shown = time.perf_counter()
        if index:
            times["Blender: PNG load + pack (images.load)"].append((loaded - started) * 1000)
            times["Blender: new material + assign"].append((assigned - loaded) * 1000)
            times[RAW_READ].append((read - assigned) * 1000)
            times["Blender: foreach_set + material (preview)"].append((shown - read) * 1000)
    medians = {name: statistics.median(values) for name, values in times.items()}
    medians[EARLY_MATERIAL] = medians.pop("_show_early") - medians["_early_read"]
    return medians


def breakdown(backend: dict, blender: dict) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """The three paths, click to material, stage by stage (ms), and what the UI's generate path
    does after its material is shown (off the critical path)."""
    generate, preview = backend["generate"], backend["preview"]
    model = {name: ms for name, ms in generate.items()
             if name.startswith(("text encoder", "denoiser")) or name == "VAE decode (full)"}
    raw, png = generate["raw RGBA write"], generate[PNG_WRITE]
    before_image = generate["_image"] - sum(model.values()) - raw
    after_image = generate["_job"] - generate["_image"] - png
    result_hand_over = generate["hand-over (result line + parse)"]
    paths = {
        "generate": {**model, "rest of the job before the image (latents, scheduler, image)": before_image,
                     "raw RGBA write": raw,
                     "hand-over (image line + parse)": generate["hand-over (image line + parse)"],
                     RAW_READ: blender["_early_read"], EARLY_MATERIAL: blender[EARLY_MATERIAL]},
        # The same job's parts without the early hand-over: what blender -b waits for.
        "generate, blender -b": {**model, REST: before_image + after_image, PNG_WRITE: png,
                                 "hand-over (result line + parse)": result_hand_over,
                                 **{name: blender[name] for name in PNG_APPLY}},
    }
    preview_model = {name: ms for name, ms in preview.items()
                     if name.startswith(("text encoder", "denoiser")) or name == "VAE decode (tiny)"}
    paths["preview"] = {
        **preview_model, REST: preview["_job"] - sum(preview_model.values()) - preview["raw RGBA write"],
        "raw RGBA write": preview["raw RGBA write"],
        "hand-over (result line + parse)": preview["hand-over (result line + parse)"],
        RAW_READ: blender[RAW_READ], "Blender: foreach_set + material (preview)":
            blender["Blender: foreach_set + material (preview)"]}
    after = {PNG_WRITE: png, "rest of the job after the image (record)": after_image,
             "hand-over (result line + parse)": result_hand_over, PNG_SWAP: blender[PNG_SWAP]}
    return paths, after


def print_table(title: str, stages: dict[str, float]) -> None:
    total = sum(stages.values())
    print(f"\n{title} {total:.1f} ms")
    print(f"  {'stage':58} {'ms':>9} {'share':>6}")
    for name, ms in stages.items():
        print(f"  {name:58} {ms:>9.1f} {ms / total:>6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="width and height in pixels")
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    import torch

    with tempfile.TemporaryDirectory(prefix="atelier-profile-") as tmp:
        folder = Path(tmp)
        model, tiny = build_models(folder)
        (folder / "out").mkdir()
        backend, writes, last = profile_backend(model, tiny, folder / "out", args)
        levels = png_levels(folder, args.repeats)
        blender = profile_blender(last, args.repeats)
        paths, after = breakdown(backend, blender)

    png_kib = writes.pop("_png_kib")
    print(f"tiny models, {args.device}, {args.size}x{args.size}, "
          f"{args.steps} step(s), the median job of {args.repeats}; torch threads {torch.get_num_threads()}")
    for kind, stages in paths.items():
        print_table(f"{kind}: click to material", stages)
        if kind == "generate":
            print_table("generate: after the material is shown (off the critical path)", after)
    print("\nfile writes on the texture's image:")
    for name, ms in writes.items():
        print(f"  {name:58} {ms:>9.1f}")
    print("  PNG size: " + ", ".join(f"level {level} {kib:.0f} KiB" for level, kib in png_kib.items()))
    print("\nPNG encode+write by zlib level:")
    print(f"  {'size':>5} {'image':7} {'level':>5} {'ms':>8} {'KiB':>7}")
    for row in levels:
        print(f"  {row['size']:>5} {row['image']:7} {row['level']:>5} {row['ms']:>8.1f} {row['kib']:>7.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "models": "tiny", "device": args.device, "size": args.size,
            "steps": args.steps, "repeats": args.repeats, "paths": paths,
            "generate_after_material": after, "writes": writes,
            "png_kib": png_kib, "png_levels": levels,
        }, indent=2))


if __name__ == "__main__":
    main()
