"""How bench/gpu_fast.py switches a mode of the texture pipeline on and times texture jobs in it.

A mode is the settings ``backend/pipeline_setup.prepare`` reads when a pipeline loads
(``switched_on``: the one place a mode is switched on). A job runs through
``backend.tasks.texture.run`` with a job context and a model cache, as ``serve`` runs it, so its
time is the backend's; each mode loads the pipeline afresh and its output is compared (PSNR) with
the reference mode's (eager, fp16, or one pass) for the same model, size and request. Every other
mode has a PSNR bound (``psnr_ok``): only a mode within its bound counts as the fastest, and
bench/gpu_fast.py fails when a measured mode breaks its bound, so a GPU run is a test of them.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench import gpu_setup
from bench.gpu_edit import show

PROMPT = "mossy stone wall"
SEED = 7
GIB = 2**30
# Each item's size on the GPU and in the tiny CPU check: texture sides in pixels, and the idea
# tokens (400 is about five scene ideas as compact JSON in the default text model's tokenizer).
SCALE = {"texture": (512, 64), "low_vram": (2048, 128), "idea_tokens": (400, 48)}


# ---------------------------------------------------------------------------- modes


# PSNR bounds against the reference output of the same request and seed, in dB. Changes that
# only round differently in fp16 (fused projections, channels-last, inductor's kernels, CUDA
# graphs) must stay above 30 dB (the CPU tests see about 60 dB and more for the first two);
# int8 weights change more, fp8 weights and activations more again. A tiled decode blends its
# tiles: the CPU tests bound it at 24 dB (tests/quantise/test_low_vram_cpu.py). The quantised
# and tiled bounds are first guesses until a GPU run has measured them.
ROUNDING_PSNR_DB = 30.0
INT8_PSNR_DB = 25.0
FP8_PSNR_DB = 20.0
TILED_PSNR_DB = 24.0


@dataclass(frozen=True)
class Mode:
    """One way of loading the texture pipeline: the settings ``pipeline_setup.prepare`` reads,
    the compile mode when it is not the one ``ATELIER_COMPILE=1`` picks, and the fast path's
    steps when only some are wanted (applied one by one on the loaded pipeline, in order)."""

    name: str
    settings: dict = field(default_factory=dict)
    psnr_bound_db: float | None = None  # None: the reference, whose output the others are compared with
    compile_mode: str | None = None  # e.g. "default": compiled without CUDA graphs
    steps: tuple[str, ...] = ()  # with ATELIER_FAST=off: these of the fast path's steps only

    @property
    def compiles(self) -> bool:
        return self.settings.get("ATELIER_COMPILE") == "1"

    @property
    def reference(self) -> bool:
        return self.psnr_bound_db is None


MODE_VARIABLES = ("ATELIER_FAST", "ATELIER_COMPILE", "ATELIER_QUANTIZE", "ATELIER_LOW_VRAM")
# diffusers' defaults already run attention through PyTorch's SDPA (``AttnProcessor2_0``), so the
# fast path's SDPA step changes nothing from here and has no row of its own; each row records
# the attention processors it ran with (``attention_processors``), which shows it.
EAGER = Mode("eager (diffusers' defaults: SDPA attention)", {"ATELIER_FAST": "off"})
# The fast path's uncompiled steps added one at a time, in the order of priority (channels_last,
# fused QKV): what each one gains is the difference between two rows.
STEPS_OFF = {"ATELIER_FAST": "off"}
CHANNELS_LAST = Mode("channels_last", STEPS_OFF, ROUNDING_PSNR_DB, steps=("channels_last",))
FAST = Mode("channels_last + fused QKV", {"ATELIER_FAST": "on", "ATELIER_COMPILE": "0"}, ROUNDING_PSNR_DB)
# On CUDA, ATELIER_COMPILE=1 compiles with CUDA graphs (mode "reduce-overhead"): what users get.
COMPILED = Mode("+ compile + CUDA graphs", {"ATELIER_FAST": "on", "ATELIER_COMPILE": "1"}, ROUNDING_PSNR_DB)
COMPILED_NO_GRAPHS = Mode("+ compile (no CUDA graphs)", COMPILED.settings, ROUNDING_PSNR_DB,
                          compile_mode="default")
TEXTURE_MODES = (EAGER, FAST, COMPILED)
SD_TURBO_MODES = (EAGER, CHANNELS_LAST, FAST, COMPILED)
# Quantised denoisers without compiling: three compiles of the SDXL UNet do not fit the budget.
QUANT_MODES = (Mode("fp16", FAST.settings),
               Mode("int8", {**FAST.settings, "ATELIER_QUANTIZE": "int8"}, INT8_PSNR_DB),
               Mode("fp8", {**FAST.settings, "ATELIER_QUANTIZE": "fp8"}, FP8_PSNR_DB))
# What ATELIER_QUANTIZE=int8 gives on CUDA by default: a quantised denoiser, compiled.
INT8_COMPILED = Mode("int8 + compile + CUDA graphs", {**COMPILED.settings, "ATELIER_QUANTIZE": "int8"},
                     INT8_PSNR_DB)
# The low-VRAM mode against one pass at the same size (neither compiles: 2048 px would compile
# for minutes, and offloaded models are never compiled).
ONE_PASS = Mode("one pass (reference)", {"ATELIER_COMPILE": "0"})
LOW_VRAM = Mode("low VRAM", {"ATELIER_LOW_VRAM": "1", "ATELIER_COMPILE": "0"}, TILED_PSNR_DB)


def fast_path_steps(pipe, steps: tuple[str, ...]) -> None:
    """Apply ``steps`` of the fast path ('channels_last') to a loaded ``pipe``, in order, each
    noted as ``fast_path.speed_up`` notes it (with fused QKV and SDPA, already diffusers' default,
    the steps are all of ``ATELIER_FAST=on``, which the FAST mode measures)."""
    from backend import fast_path, setup_notes

    apply = {"channels_last": ("channels_last", lambda: fast_path._channels_last(pipe))}
    for step in steps:
        name, run = apply[step]
        setup_notes.note(pipe, name, run())
    setup_notes.note(pipe, "fast", f"steps: {', '.join(steps)}")


@contextlib.contextmanager
def switched_on(mode: Mode, tiny: bool):
    """Inside the block, the backend loads pipelines in ``mode`` and nothing else: the one place
    a mode is switched on. The environment variables are read when a pipeline loads; a compile
    mode of its own (and, for the CPU check, torch.compile's quick "eager" backend, which traces
    and guards without generating kernels) replaces what ``fast_path.resolve`` would pick, and a
    mode's ``steps`` are applied after ``fast_path.speed_up`` (which, with the fast path off,
    installs the prompt cache only)."""
    from backend import fast_path

    saved = {name: os.environ.pop(name, None) for name in MODE_VARIABLES}
    os.environ.update(mode.settings)
    resolve, speed_up = fast_path.resolve, fast_path.speed_up

    def resolve_for_mode(device: str):
        settings = resolve(device)
        if settings.compile_mode is None:
            return settings
        return replace(settings, compile_mode=mode.compile_mode or settings.compile_mode,
                       compile_backend="eager" if tiny else settings.compile_backend)

    def speed_up_in_steps(pipe, device: str, settings=None) -> None:
        speed_up(pipe, device, settings)
        fast_path_steps(pipe, mode.steps)

    fast_path.resolve = resolve_for_mode
    if mode.steps:
        fast_path.speed_up = speed_up_in_steps
    try:
        yield
    finally:
        fast_path.resolve, fast_path.speed_up = resolve, speed_up
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


# ---------------------------------------------------------------------------- the bench


class Bench:
    """The run's device, budget, model folders and results (written after every figure)."""

    def __init__(self, args, device: str, dtype, folder: Path) -> None:
        self.args, self.device, self.dtype, self.folder = args, device, dtype, folder
        self.started = time.perf_counter()
        self.deadline = self.started + args.budget_s
        self.out = folder / "out"
        self.ids = itertools.count()
        self.models: dict[str, Path] = {}
        self.item = ""  # the item running now
        self.references: dict[tuple, object] = {}  # the first pixels made per model, size and request
        self.results = gpu_setup.results_header(device, dtype, self.size("texture"), 1, args)
        del self.results["models"]  # this benchmark's figures are by item
        self.results.update(versions=versions(), items={}, budget_s=args.budget_s)

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    def size(self, item: str) -> int:
        return SCALE[item][self.args.tiny]

    def compiles_tiny(self) -> bool:
        """Whether the CPU check compiles in the item now running (``--tiny-compile``)."""
        wanted = self.args.tiny_compile
        return wanted == "all" or self.item in wanted.split(",")

    def seconds_left(self) -> float:
        """The budget's seconds left (negative once it is spent)."""
        return self.deadline - time.perf_counter()

    def time_left(self) -> bool:
        return self.seconds_left() > 0

    def skip_reason(self, mode: Mode) -> str | None:
        """Why ``mode`` does not start now, or None when it does. A compile starts only with
        ``--min-compile-left-s`` of the budget left: it takes minutes, and one cut off by the
        run's limit measures nothing (the item's uncompiled modes still run)."""
        left = self.seconds_left()
        if left <= 0:
            return "budget spent"
        if not mode.compiles:
            return None
        if self.args.tiny and not self.compiles_tiny():
            return "compiling takes tens of seconds on a CPU even traced only: --tiny-compile"
        if left < self.args.min_compile_left_s:
            return (f"{left:.0f} s of the budget left, under --min-compile-left-s "
                    f"{self.args.min_compile_left_s:g}: a compile takes minutes")
        return None

    def model(self, name: str) -> Path:
        """The folder of model ``name`` ('sd', 'sdxl', 'tiny-autoencoder', 'text'), built once."""
        if name not in self.models:
            started = time.perf_counter()
            folder = self.folder / name
            if name in ("sd", "sdxl"):
                gpu_setup.build_pipeline(name, folder, self.args.tiny, self.device, self.dtype)
            elif name == "tiny-autoencoder":
                gpu_setup.build_tiny_autoencoder(folder, self.args.tiny)
            else:
                gpu_setup.build_text_model(folder, self.args.tiny, self.device, self.dtype)
            self.models[name] = folder
            self.results.setdefault("build_s", {})[name] = round(time.perf_counter() - started, 2)
        return self.models[name]

    def sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def start_memory(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def peak_gib(self) -> float | None:
        if not self.cuda:
            return None
        import torch

        return round(torch.cuda.max_memory_allocated() / GIB, 3)

    def save(self) -> None:
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(self.results, indent=2))


def versions() -> dict:
    """The versions of the libraries the figures depend on (None: not installed)."""
    import importlib.metadata

    found = {}
    for name in ("transformers", "accelerate", "torchao", "xgrammar"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


@dataclass
class Job:
    """One texture job's times (ms) and the pixels it made."""

    pixels_ms: float  # to the first pixels the client can show: the image event, else the result
    job_ms: float  # to the result
    pixels: object
    applied: dict
    early: bool  # whether the pixels came early, in an image event before the result


def texture_job(bench: Bench, cache, model: Path, size: int, prompt: str = PROMPT, **fields) -> Job:
    """One texture job through ``backend.tasks.texture.run``, as ``serve`` runs it."""
    import numpy as np
    from PIL import Image

    from backend.pipeline_setup import applied
    from backend.task_context import JobContext
    from backend.tasks import texture
    from core import protocol

    request = protocol.TextureRequest(
        id=f"bench-{next(bench.ids)}", prompt=prompt, output_dir=str(bench.out), model=str(model),
        width=size, height=size, steps=1, guidance=0.0, seed=SEED, device=bench.device,
        early_pixels=not fields.get("preview", False), **fields)
    shown = []

    def emit(event) -> None:
        if event.type == "image" and not shown:
            shown.append(time.perf_counter())

    context = JobContext(request, cache, emit=emit)
    bench.sync()
    started = time.perf_counter()
    output = texture.run(request, context)
    ended = time.perf_counter()
    result = output.files[0]
    if result.format == "rgba8":
        pixels = np.frombuffer(Path(result.path).read_bytes(), np.uint8).reshape(size, size, 4)[..., :3]
    else:
        pixels = np.asarray(Image.open(result.path).convert("RGB"))
    pipe = context.load("texture", str(model), texture.load_pipeline)  # the cached pipeline
    return Job(1000 * ((shown[0] if shown else ended) - started), 1000 * (ended - started), pixels,
               applied(pipe) | {"attention_processors": attention_processors(pipe)}, bool(shown))


def attention_processors(pipe) -> str:
    """The class names of the denoiser's attention processors: diffusers' default on torch 2 is
    ``AttnProcessor2_0`` (SDPA), fused projections make it ``FusedAttnProcessor2_0``."""
    from backend.fast_path import _denoiser

    processors = getattr(_denoiser(pipe), "attn_processors", {})
    return ", ".join(sorted({type(processor).__name__ for processor in processors.values()}))


def direct_ms(bench: Bench, cache, model: Path, size: int) -> float:
    """The median direct diffusers call on the backend's own loaded pipeline (no file written)."""
    import torch

    from backend.task_context import JobContext
    from backend.tasks import texture
    from core import protocol

    request = protocol.TextureRequest(id="direct", model=str(model), device=bench.device)
    pipe = JobContext(request, cache).load("texture", str(model), texture.load_pipeline)

    def call() -> float:
        bench.sync()
        started = time.perf_counter()
        pipe(prompt=PROMPT, width=size, height=size, num_inference_steps=1, guidance_scale=0.0,
             generator=torch.Generator("cpu").manual_seed(SEED)).images[0]
        return 1000 * (time.perf_counter() - started)

    for _ in range(bench.args.warmup):
        call()
    return statistics.median(call() for _ in range(bench.args.repeats))


def callback_syncs(bench: Bench, cache, model: Path, size: int, fields: dict) -> int:
    """How often one job's per-step callback made the CPU wait for the GPU (CUDA's sync debug
    mode, on around the callback alone): the fast path's rule is never."""
    import warnings

    import torch

    from backend.tasks import texture

    made = texture.progress_callback

    def watched(job, steps: int):
        callback = made(job, steps)

        def on_step_end(*args):
            torch.cuda.set_sync_debug_mode("warn")
            try:
                return callback(*args)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return on_step_end

    texture.progress_callback = watched
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            texture_job(bench, cache, model, size, **fields)
    finally:
        texture.progress_callback = made
    return sum("synchroniz" in str(warning.message) for warning in caught)


@dataclass(frozen=True)
class Plan:
    """How an item times a mode: the model and request, and which extra figures it wants."""

    kind: str  # the model: 'sd' or 'sdxl'
    size: int
    fields: dict = field(default_factory=dict)  # more request fields (preview, tiny_autoencoder)
    direct: bool = False  # also the direct diffusers call on the same pipeline
    new_prompts: bool = True  # also jobs with a new prompt each (the prompt cache never hits)
    repeats: int | None = None  # None: --repeats

    @property
    def reference_key(self) -> tuple:
        """Outputs with one key are compared with each other (PSNR)."""
        return self.kind, self.size, tuple(sorted(self.fields.items()))


def measure_mode(bench: Bench, mode: Mode, plan: Plan) -> tuple[dict, object]:
    """One mode's figures, and the pixels of its job with ``PROMPT`` and ``SEED``."""
    from backend.model_cache import ModelCache

    model, size, repeats = bench.model(plan.kind), plan.size, plan.repeats or bench.args.repeats
    cache = ModelCache()
    bench.start_memory()
    try:
        started = time.perf_counter()
        first = texture_job(bench, cache, model, size, **plan.fields)  # loads, prepares, compiles
        row = {"first_job_s": round(time.perf_counter() - started, 2)}
        for _ in range(bench.args.warmup):
            texture_job(bench, cache, model, size, **plan.fields)
        same = [texture_job(bench, cache, model, size, **plan.fields) for _ in range(repeats)]
        row |= {"backend_ms": statistics.median(job.pixels_ms for job in same),
                "job_ms": statistics.median(job.job_ms for job in same),
                "early": all(job.early for job in same)}
        if plan.new_prompts:
            new = [texture_job(bench, cache, model, size, f"{PROMPT} {next(bench.ids)}", **plan.fields)
                   for _ in range(repeats)]
            row["new_prompt_ms"] = statistics.median(job.pixels_ms for job in new)
        if plan.direct:
            row["direct_ms"] = direct_ms(bench, cache, model, size)
            row["backend_over_direct"] = round(row["job_ms"] / row["direct_ms"], 3)
        if bench.cuda:
            row["callback_syncs"] = callback_syncs(bench, cache, model, size, plan.fields)
        row |= {"peak_gib": bench.peak_gib(), "applied": first.applied}
        return row, same[0].pixels
    finally:
        drop(cache, mode)


def drop(cache, mode: Mode) -> None:
    """Free ``cache``'s models, and with them compiled code and CUDA graphs' memory pools."""
    cache.drop()
    gc.collect()
    if mode.compiles:
        import torch

        torch.compiler.reset()


def first_job(bench: Bench, mode: Mode, plan: Plan) -> dict:
    """One first job in ``mode`` with a new model cache, and what it ran with: the load, the
    preparation, the compile (or the compiled code found in the compile cache folder) and the job.
    Run in a new process by the compile-cache item: in this one, ``torch.compiler.reset`` would
    leave inductor's in-memory caches warm."""
    from backend.model_cache import ModelCache

    cache = ModelCache()
    try:
        started = time.perf_counter()
        job = texture_job(bench, cache, bench.model(plan.kind), plan.size, **plan.fields)
        return {"first_job_s": round(time.perf_counter() - started, 2), "applied": job.applied}
    finally:
        drop(cache, mode)


def measure_modes(bench: Bench, entry: dict, modes, plan: Plan, label: str = "") -> dict:
    """Each of ``modes`` in turn that may start (``Bench.skip_reason``), with its PSNR against the reference
    mode's output for the same model, size and request (eager, fp16 or one pass) and whether that
    is within the mode's bound (``psnr_ok``; None: no reference was measured)."""
    from core.errors import TaskError

    for mode in modes:
        if reason := bench.skip_reason(mode):
            row = {"skipped": reason}
        else:
            with switched_on(mode, bench.args.tiny):
                try:
                    row, pixels = measure_mode(bench, mode, plan)
                except TaskError as exc:  # a mode this device cannot run (e.g. fp8 on a CPU)
                    row = {"refused": f"{exc.code}: {exc.message}"}
                else:
                    compare(bench, mode, plan, row, pixels)
        entry.setdefault("modes", {})[mode.name] = row
        show(f"  {label}{mode.name}", printable(row))
        bench.save()
    return entry


def compare(bench: Bench, mode: Mode, plan: Plan, row: dict, pixels) -> None:
    """``row``'s PSNR against the reference pixels of ``plan`` and whether it is within the
    mode's bound; a reference mode's pixels become the reference."""
    if mode.reference:
        bench.references[plan.reference_key] = pixels
    reference = bench.references.get(plan.reference_key)
    if reference is None:
        row["psnr_ok"] = None  # its reference was not measured (budget spent, or it failed)
        return
    row["psnr_db"] = gpu_setup.psnr_db(pixels, reference)
    row["psnr_bound_db"] = mode.psnr_bound_db
    row["psnr_ok"] = mode.reference or row["psnr_db"] >= mode.psnr_bound_db


def printable(row: dict) -> dict:
    """The figures of ``row`` worth a line of output, rounded."""
    return {key: round(value, 2) if isinstance(value, float) else value for key, value in row.items()
            if value not in (None, []) and not isinstance(value, dict) and key != "traceback"}


def fastest(entry: dict) -> tuple[str, float] | None:
    """The mode with the smallest backend time within its PSNR bound and that time, or None when
    no such mode was measured."""
    measured = [(row["backend_ms"], name) for name, row in entry.get("modes", {}).items()
                if "backend_ms" in row and row.get("psnr_ok")]
    return (min(measured)[1], min(measured)[0]) if measured else None


def with_best(entry: dict) -> dict:
    """``entry`` with its fastest mode within its PSNR bound and that mode's backend time, and the
    modes outside their bound (never counted as the fastest)."""
    best = fastest(entry)
    if best:
        entry["best_mode"], entry["backend_ms"] = best
    entry["outside_psnr_bound"] = [name for name, row in entry.get("modes", {}).items()
                                   if row.get("psnr_ok") is False]
    return entry


def psnr_failures(entry: dict, label: str = "") -> list[str]:
    """Every mode in ``entry`` (and in the entries inside it) whose PSNR is outside its bound."""
    failures = [f"{label}{name}: {row['psnr_db']:.1f} dB < {row['psnr_bound_db']:g} dB"
                for name, row in entry.get("modes", {}).items() if row.get("psnr_ok") is False]
    for name, inner in entry.items():
        if isinstance(inner, dict) and name != "modes":
            failures += psnr_failures(inner, f"{label}{name} / ")
    return failures
