"""The GPU fast path, measured through the backend's own task code, cheap figures first.

Full-size architectures with random weights (speed does not depend on weight values; nothing is
downloaded), run in this process through the backend's tasks with a job context and a model
cache, as ``serve`` runs them, so each figure is the backend's time. The items, in the order
they run:

1. SD-Turbo-sized (SD 2.x, ``bench/gpu_turbo.py``), 512 px, 1 step, fp16: eager, which is
   diffusers' defaults (``ATELIER_FAST=off``; they already run attention through SDPA,
   ``AttnProcessor2_0``, so SDPA has no row of its own and each row records its attention
   processors), then the fast path's steps added one at a time in their order of priority:
   channels_last, + fused QKV (that is ``ATELIER_FAST=on ATELIER_COMPILE=0``), then compiled
   with CUDA graphs (``ATELIER_COMPILE=1``), each with its PSNR against the eager output of the
   same prompt and seed and the direct diffusers call on the same pipeline as a reference. Every
   mode is timed with the same prompt in every job (the prompt-embedding cache hits) and with a
   new prompt in every job (it never does).
2. Preview throughput at 512 px: updates per second with the tiny autoencoder (TAESD's full-size
   architecture) and raw RGBA pixels: eager, fast, compiled.
3. Five scene ideas: the ideas task's prompt and grammar on the default text model's 1.5B
   architecture (random weights) for 400 tokens (about five ideas' JSON in a real tokenizer; a
   random model's document never ends sooner, nor near there), through the backend's
   ``structured.generate_text``; unconstrained if xgrammar cannot load. The grammar's per-token
   work grows with the vocabulary, so the tokenizer has the real one's 151643 tokens, made up
   (``gpu_setup.enlarge_tokenizer``: letter runs, not Qwen2's merges); the output says so next
   to the figure (``IDEAS_LIMITATION``). The CPU check keeps the tests' 400-token tokenizer.
4. Quantisation of the SDXL-Turbo-sized denoiser (``ATELIER_QUANTIZE`` off, int8, fp8; fast path
   without compiling): peak memory, speed, PSNR against fp16.
5. Low VRAM: a 2048 px SDXL-Turbo-sized texture with ``ATELIER_LOW_VRAM=1`` within 8 GiB
   (``torch.cuda.set_per_process_memory_fraction``): whether it passes, peak memory, time, and
   PSNR against the same job decoded in one pass without the limit.
6. SDXL-Turbo-sized: eager, fast, compiled.
7. The SD-Turbo-sized denoiser quantised to int8 and compiled (what ``ATELIER_QUANTIZE=int8``
   gives on CUDA), PSNR against eager fp16.
8. Items 1 and 6 compiled without CUDA graphs: the two halves of the last step.
9. The compile cache (``compile-cache``): a new Python process, as the next start of the
   backend, loads the SD-Turbo-sized model and times its first compiled job with the compile
   cache folder (``ATELIER_COMPILE_CACHE``) that item 1's compiled mode filled: ``first_job_s``
   (the same span as item 1's cold ``first_job_s``, repeated as ``cold_first_job_s``) and
   ``process_s`` (imports and CUDA set-up included). A new process because in this one
   ``torch.compiler.reset()`` leaves inductor's in-memory caches warm: too good a figure.

Why this order: compiling the SDXL UNet alone can take three minutes, so everything that does
not compile it comes first (SD-Turbo's compile, the headline figure, is shorter), and the items
that only refine figures come last. No item or mode starts once ``--budget-s`` is spent, and no
compiled mode starts with less than ``--min-compile-left-s`` (200 s) of it left: a compile cut
off by the run's limit measures nothing, so it is marked skipped with the reason and the item's
uncompiled modes still run. ``--items`` runs the items it names in the order it names them.

Each mode but the references has a PSNR bound (``bench/gpu_fast_modes.py``): only a mode within
its bound counts as an item's fastest (and so for the goals), and the script exits non-zero when
a measured mode breaks its bound, so a GPU run is a test of the bounds.

Button to material is the backend's time to the first pixels Blender can show (the ``image``
event of an ``early_pixels`` job) plus Blender's hand-over and apply time, measured on the CPU
(``--blender-ms``, or ``--blender-json`` from ``bench/profile_texture.py --json``): printed
separately and summed against the goals on an H200. Before any model work a preflight imports
every library the run needs (and checks for a CUDA GPU unless ``--tiny``) and prints their
versions, or stops in seconds naming what failed (torchao and xgrammar, which only some items
need, are named and the run goes on). Each figure is printed when measured and the
JSON is written after each one, so a run cut short still has the first figures. ``--tiny`` runs
the same on the CPU with the tests' tiny models, a check that it runs (compiled modes only with
``--tiny-compile [ITEMS]``: traced by torch.compile's eager backend, which still takes tens of
seconds).

    bash bench/gpu_run.sh                                          # the GPU machine: see there
    HF_HUB_OFFLINE=1 python bench/gpu_fast.py --json gpu_fast.json  # a CUDA GPU, fp16
    HF_HUB_OFFLINE=1 .venv/bin/python bench/gpu_fast.py --tiny --json tiny_fast.json  # CPU check
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import gpu_setup  # noqa: E402
from bench.gpu_edit import show  # noqa: E402
from bench.gpu_fast_modes import (  # noqa: E402
    COMPILED,
    COMPILED_NO_GRAPHS,
    GIB,
    INT8_COMPILED,
    LOW_VRAM,
    ONE_PASS,
    QUANT_MODES,
    SD_TURBO_MODES,
    SEED,
    TEXTURE_MODES,
    Bench,
    Plan,
    first_job,
    measure_modes,
    printable,
    psnr_failures,
    switched_on,
    with_best,
)
from core.tiny_autoencoders import TINY_AUTOENCODER_ENV  # noqa: E402

LOW_VRAM_GIB = 8
GOALS = (  # (name, item, figure, kind of bound, bound), on an H200
    ("SD-Turbo backend ms", "sd-turbo", "backend_ms", "max", 30.0),
    ("SD-Turbo button to material ms", "sd-turbo", "button_to_material_ms", "max", 50.0),
    ("SDXL-Turbo backend ms", "sdxl-turbo", "backend_ms", "max", 50.0),
    ("previews per second at 512 px", "preview", "updates_per_s", "min", 20.0),
    ("five scene ideas s", "ideas", "seconds", "max", 3.0),
)
IDEAS_LIMITATION = {  # by --tiny
    False: "a made-up tokenizer of the real one's size (151643 tokens: letter runs, not Qwen2's "
           "merges): the grammar's per-token work is of the real size, its token strings are not real",
    True: "the tests' tiny tokenizer (400 tokens): most of the grammar's per-token work is left out"}


# ---------------------------------------------------------------------------- the items


def texture_speed(kind: str):
    """Item 1 (``sd``: the fast path step by step) or 6 (``sdxl``): each mode in turn, at 512 px,
    1 step."""
    def item(bench: Bench, entry: dict) -> dict:
        sd = kind == "sd"
        plan = Plan(kind, bench.size("texture"), direct=True)
        measure_modes(bench, entry, SD_TURBO_MODES if sd else TEXTURE_MODES, plan)
        with_best(entry)
        if "backend_ms" in entry and bench.args.blender_ms is not None and kind == "sd":
            entry["blender_ms"] = bench.args.blender_ms
            entry["button_to_material_ms"] = entry["backend_ms"] + bench.args.blender_ms
        return entry
    return item


def preview_throughput(bench: Bench, entry: dict) -> dict:
    """Previews of the SD-Turbo-sized model with the tiny autoencoder, raw pixels, per second."""
    os.environ[TINY_AUTOENCODER_ENV] = str(bench.model("tiny-autoencoder"))
    plan = Plan("sd", bench.size("texture"), {"preview": True, "tiny_autoencoder": True})
    with_best(measure_modes(bench, entry, TEXTURE_MODES, plan))
    if "backend_ms" in entry:
        entry["updates_per_s"] = 1000 / entry["backend_ms"]
    return entry


def quantisation(bench: Bench, entry: dict) -> dict:
    """The SDXL-Turbo-sized denoiser in fp16, int8 and fp8: memory, speed, PSNR against fp16."""
    return measure_modes(bench, entry, QUANT_MODES, Plan("sdxl", bench.size("texture"), new_prompts=False))


def low_vram(bench: Bench, entry: dict) -> dict:
    """A large SDXL texture in ``LOW_VRAM_GIB`` of GPU memory (on the CPU: the mode runs), and its
    PSNR against the same job decoded in one pass, measured first without the limit."""
    import torch

    entry["size"] = size = bench.size("low_vram")
    plan = Plan("sdxl", size, new_prompts=False, repeats=1)
    measure_modes(bench, entry, (ONE_PASS,), plan)  # builds the model before the memory is limited
    if bench.cuda:
        torch.cuda.empty_cache()
        total = torch.cuda.get_device_properties(0).total_memory
        entry["memory_limit_gib"] = LOW_VRAM_GIB
        torch.cuda.set_per_process_memory_fraction(min(1.0, LOW_VRAM_GIB * GIB / total))
    try:
        measure_modes(bench, entry, (LOW_VRAM,), plan)
    finally:
        if bench.cuda:
            torch.cuda.set_per_process_memory_fraction(1.0)
    row = entry["modes"][LOW_VRAM.name]
    if "job_ms" in row or row.get("refused", "").startswith("out_of_memory"):
        entry["passes"] = "job_ms" in row
        entry["seconds"] = row.get("job_ms", 0.0) / 1000
    return entry


def int8_compiled(bench: Bench, entry: dict) -> dict:
    """The SD-Turbo-sized denoiser quantised to int8 and compiled: quantised weights under
    torch.compile and CUDA graphs, against item 1's eager fp16 output."""
    return with_best(measure_modes(bench, entry, (INT8_COMPILED,), Plan("sd", bench.size("texture"))))


def compile_without_graphs(bench: Bench, entry: dict) -> dict:
    """The last row of items 1 and 6 if time is left: compiled, without CUDA graphs."""
    for name, kind in gpu_setup.MODELS:
        if name in bench.args.models.split(","):
            measure_modes(bench, entry.setdefault(name, {}), (COMPILED_NO_GRAPHS,),
                          Plan(kind, bench.size("texture")), label=f"{name} ")
    return entry


def ideas_speed(bench: Bench, entry: dict) -> dict:
    """The first tokens of the ideas task's answer (its prompt, its grammar for five ideas): as many
    as five ideas take (``SCALE``)."""
    from backend.model_cache import ModelCache
    from backend.structured import compiled_grammar, generate_text
    from backend.task_context import JobContext
    from backend.text_model import load_text_model
    from core.ideas_prompt import describe_context, generation_schema, messages
    from core.protocol import IdeasRequest

    model = bench.model("text")
    cache = ModelCache()
    bench.start_memory()
    request = IdeasRequest(id="ideas", prompt="a cosy reading nook by a rainy window", count=5,
                           model=str(model), device=bench.device, seed=SEED)
    job = JobContext(request, cache)
    started = time.perf_counter()
    lm = load_text_model(job, str(model))
    entry["load_s"] = time.perf_counter() - started
    grammar = None
    try:
        import xgrammar  # noqa: F401  (the grammar's library: it may not load on every machine)
    except Exception as exc:  # not there, or built for another torch: time it unconstrained
        entry["note"] = f"xgrammar cannot be used here ({type(exc).__name__}: {exc}): unconstrained"
    else:
        started = time.perf_counter()
        grammar = compiled_grammar(lm, generation_schema(request.count))
        entry["grammar_compile_s"] = time.perf_counter() - started
    entry["constrained"] = grammar is not None
    entry["limitation"] = IDEAS_LIMITATION[bench.args.tiny]
    chat = messages(request.prompt, request.count, describe_context(request.context))

    def answer(tokens: int) -> tuple[float, int]:
        bench.sync()
        started = time.perf_counter()
        _, made = generate_text(job, lm, chat, grammar=grammar, max_new_tokens=tokens, seed=SEED)
        bench.sync()
        return time.perf_counter() - started, made

    answer(16)  # warm-up: kernels, the sampler, the grammar matcher
    wanted = bench.size("idea_tokens")
    runs = [answer(wanted) for _ in range(max(1, min(bench.args.repeats, 2)))]
    seconds, made = sorted(runs)[len(runs) // 2]
    entry |= {"tokens": made, "answer_s": seconds, "ms_per_token": 1000 * seconds / made,
              # a random model may close its document early: scaled to the full length
              "seconds": seconds * wanted / made, "peak_gib": bench.peak_gib()}
    cache.drop()
    return entry


def compile_cache(bench: Bench, entry: dict) -> dict:
    """The next start of the backend with compiled code on disk: a new process (``--first-compiled-job``)
    loads the SD-Turbo-sized model and runs its first compiled job with the compile cache folder
    that the sd-turbo item's compiled mode filled, against that mode's cold first job."""
    cold = bench.results["items"].get("sd-turbo", {}).get("modes", {}).get(COMPILED.name, {})
    if "first_job_s" not in cold:
        entry["skipped"] = "the sd-turbo item's compiled mode did not run before it: no compiled code cached"
        return entry
    if reason := bench.skip_reason(COMPILED):
        entry["skipped"] = reason
        return entry
    command = [sys.executable, str(Path(__file__).resolve()), "--first-compiled-job", str(bench.model("sd"))]
    started = time.perf_counter()
    # The environment names the same compile cache folder (ATELIER_COMPILE_CACHE, set in main).
    done = subprocess.run(command + ["--tiny"] * bench.args.tiny, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the new process exited with {done.returncode}: {done.stderr[-3000:]}")
    entry |= json.loads(done.stdout.splitlines()[-1])
    entry |= {"process_s": round(time.perf_counter() - started, 2), "cold_first_job_s": cold["first_job_s"]}
    return entry


# Cheap figures first, the SDXL UNet's compile (minutes) after them, then what only refines them.
ITEMS = (("sd-turbo", texture_speed("sd")), ("preview", preview_throughput), ("ideas", ideas_speed),
         ("quantisation", quantisation), ("low-vram", low_vram), ("sdxl-turbo", texture_speed("sdxl")),
         ("sd-turbo-int8-compiled", int8_compiled), ("compile-without-cuda-graphs", compile_without_graphs),
         ("compile-cache", compile_cache))


def first_compiled_job(args, device: str, dtype) -> dict:
    """``--first-compiled-job``: the compile-cache item's new process. The first compiled job of
    the SD-Turbo-sized model in ``args.first_compiled_job``, with the environment's compile cache."""
    with tempfile.TemporaryDirectory(prefix="atelier-gpu-first-job-") as tmp:
        bench = Bench(args, device, dtype, Path(tmp))
        bench.models["sd"] = Path(args.first_compiled_job)
        with switched_on(COMPILED, args.tiny):
            return first_job(bench, COMPILED, Plan("sd", bench.size("texture")))


# ---------------------------------------------------------------------------- Blender and goals


def blender_ms(path: str, which: str) -> float:
    """Blender's part of button to material from ``bench/profile_texture.py --json``: the
    hand-over and the Blender stages of its path ``which`` (the backend's part, file writes
    included, is what this script measures on the GPU)."""
    stages = json.loads(Path(path).read_text())["paths"][which]
    return sum(ms for stage, ms in stages.items() if stage.startswith(("hand-over", "Blender")))


def goals(results: dict) -> list[dict]:
    """Each goal with its figure (from modes within their PSNR bound) and whether it is met (None:
    not measured); ``outside_psnr_bound`` names the item's modes that do not count."""
    rows = []
    for name, item, figure, kind, bound in GOALS:
        entry = results["items"].get(item, {})
        value, outside = entry.get(figure), entry.get("outside_psnr_bound", [])
        met = None if value is None else (value <= bound if kind == "max" else value >= bound)
        if value is None and outside:
            met = False  # measured, but no mode made an image close enough to count
        rows.append({"goal": name, "bound": bound, "kind": kind, "value": value, "met": met,
                     "outside_psnr_bound": outside})
    return rows


def print_goals(results: dict, tiny: bool) -> None:
    print("\ngoals (on an H200)" + (": tiny models on the CPU, not comparable" if tiny else ""))
    sd = results["items"].get("sd-turbo", {})
    if "blender_ms" in sd:
        print(f"  SD-Turbo button to material: backend {sd['backend_ms']:.1f} ms + Blender "
              f"{sd['blender_ms']:.1f} ms = {sd['button_to_material_ms']:.1f} ms")
    for row in results["goals"]:
        value = "not measured" if row["value"] is None else f"{row['value']:.2f}"
        verdict = {None: "", True: "met", False: "not met"}[row["met"]]
        if row["outside_psnr_bound"]:
            verdict += f" (outside the PSNR bound, not counted: {', '.join(row['outside_psnr_bound'])})"
        sign = "<=" if row["kind"] == "max" else ">="
        print(f"  {row['goal']:34} {value:>12}  goal {sign} {row['bound']:g}  {verdict}")
        if row["goal"].startswith("five scene ideas") and row["value"] is not None:
            print(f"  {'':34} ({IDEAS_LIMITATION[tiny]})")


def quiet_libraries() -> None:
    """No progress bars or load notes from diffusers and transformers: the figures stay readable."""
    import diffusers
    import transformers

    for library in (diffusers, transformers):
        library.utils.logging.set_verbosity_error()
        library.utils.logging.disable_progress_bar()


def main() -> None:
    parser = gpu_setup.parser(__doc__.splitlines()[0], "--tiny")
    parser.set_defaults(budget_s=400.0)
    parser.add_argument("--items", default=",".join(name for name, _ in ITEMS),
                        help="comma-separated items, run in the order given (default: all, cheap ones first)")
    parser.add_argument("--min-compile-left-s", type=float, default=200.0,
                        help="no compiled mode starts with less of the budget left (it is marked skipped)")
    parser.add_argument("--tiny-compile", nargs="?", const="all", default="", metavar="ITEMS",
                        help="with --tiny: also the compiled modes (traced by torch.compile's eager "
                             "backend), of these comma-separated items only when given")
    parser.add_argument("--blender-ms", type=float, help="Blender's hand-over and apply time (ms)")
    parser.add_argument("--blender-json", help="bench/profile_texture.py --json output to read it from")
    parser.add_argument("--blender-path", default="generate",
                        help="its path: 'generate' (early pixels) or 'generate, blender -b' (the PNG)")
    parser.add_argument("--first-compiled-job", metavar="FOLDER",
                        help="the compile-cache item's new process: time the first compiled job of the "
                             "SD-Turbo-sized model in FOLDER and print its figures as JSON")
    args = parser.parse_args()
    items = dict(ITEMS)
    if unknown := set(args.items.split(",")) - set(items):
        parser.error(f"--items names unknown {', '.join(sorted(unknown))}")
    # --models (shared with the other GPU benchmarks) narrows the per-model items 1 and 6.
    names = [name for name in dict.fromkeys(args.items.split(","))
             if name in args.models.split(",") or name not in dict(gpu_setup.MODELS)]
    if args.blender_json:
        args.blender_ms = blender_ms(args.blender_json, args.blender_path)

    if args.first_compiled_job:
        device, dtype = gpu_setup.device_and_dtype(args.tiny, "--tiny")
        quiet_libraries()
        print(json.dumps(first_compiled_job(args, device, dtype)))
        return
    print(gpu_setup.preflight(need_cuda=not args.tiny), flush=True)
    device, dtype = gpu_setup.device_and_dtype(args.tiny, "--tiny")
    quiet_libraries()
    failed = []
    with tempfile.TemporaryDirectory(prefix="atelier-gpu-fast-") as tmp:
        # Cold at the start (what a first load compiles is part of its figure), warm for later items.
        os.environ["ATELIER_COMPILE_CACHE"] = str(Path(tmp) / "compile-cache")
        bench = Bench(args, device, dtype, Path(tmp))
        print(f"{bench.results['device']} {bench.results['dtype']}, median of {args.repeats} "
              f"after {args.warmup} warm-up, budget {args.budget_s:.0f} s, compiles with "
              f"{args.min_compile_left_s:.0f} s of it left; items: {', '.join(names)}", flush=True)
        for name in names:
            entry = bench.results["items"].setdefault(name, {})
            if not bench.time_left():
                entry["skipped"] = "budget spent"
                continue
            print(f"{name}:", flush=True)
            bench.item = name
            started = time.perf_counter()
            try:
                items[name](bench, entry)
            except Exception as exc:  # one item's failure must not lose the others' figures
                entry["error"] = f"{type(exc).__name__}: {exc}"
                entry["traceback"] = traceback.format_exc()[-4000:]
                failed.append(name)
                print(entry["traceback"], file=sys.stderr, flush=True)
            entry["item_s"] = round(time.perf_counter() - started, 2)
            show(f"{name} done", printable(entry))
            bench.save()
        bench.results["total_s"] = round(time.perf_counter() - bench.started, 1)
        bench.results["goals"] = goals(bench.results)
        bench.results["psnr_failures"] = outside = psnr_failures(bench.results["items"])
        bench.save()
    print_goals(bench.results, args.tiny)
    if outside:
        print("\noutside the PSNR bound:\n  " + "\n  ".join(outside))
    problems = [f"failed: {', '.join(failed)}"] if failed else []
    if outside:
        problems.append(f"{len(outside)} mode(s) outside the PSNR bound")
    if problems:
        sys.exit("; ".join(problems))


if __name__ == "__main__":
    main()
