"""Batch throughput (textures per second) of ``python -m backend ray-serve`` with 1 and 2 worker
replicas: every job of a batch is sent at once (a remote backend gets up to 32 of a batch in
flight from ``atelier.batch_textures``) and each is carried to its end as Blender's remote
transport does (submit, stream the events, fetch the picture, delete the job). The clock runs
from the first submit to the last deleted job.

The server is started (and stopped, every Ray process with it) by the test suite's own starter,
``tests/ray_server.start_ray_serve``. On the CPU each replica runs torch on one thread
(``OMP_NUM_THREADS=1``), so two replicas use two cores; the model is the tiny random SD pipeline
at ``--size`` px and ``--steps`` steps, so a job costs about as much as its denoising. Requests
leave guidance unset, as the operator does when the Texture panel says 0 (the model's own).
``--gpu`` builds SDXL-Turbo at full size from its published config (random weights: speed does
not depend on them, nothing is downloaded); each replica gets a whole GPU (the server's default),
so ``--replicas 1 2`` needs two GPUs. The ``--gpu`` mode has not been run yet. Ray and diffusers
must be installed. Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/batch_throughput.py --items 16 --repeats 3 --json batch_cpu.json
    HF_HUB_OFFLINE=1 .venv/bin/python bench/batch_throughput.py --gpu --json batch_gpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from ray_server import RayServeProcess, call, start_ray_serve, stream_events, submit  # noqa: E402

# ---------------------------------------------------------------------- the measurement


def run_job(server: RayServeProcess, request: dict) -> None:
    """One job to its end, as the remote transport carries it; raises on an error event."""
    answer = submit(server, request)
    answer.raise_for_status()
    job = answer.json()["job"]
    final = None
    for event in stream_events(server, job):
        if event.get("type") in ("result", "error"):
            final = event
    if final is None or final["type"] != "result":
        raise RuntimeError(f"job {request['id']} failed: {final}")
    for file in final["files"]:
        call(server, "GET", f"/v1/jobs/{job}/files/{file['role']}").raise_for_status()
    call(server, "DELETE", f"/v1/jobs/{job}").raise_for_status()


def texture_request(index: int, model: Path, args: argparse.Namespace) -> dict:
    return {"type": "texture", "id": f"batch-{index}", "prompt": f"weathered stone wall {index}",
            "model": str(model), "width": args.size, "height": args.size, "steps": args.steps,
            "guidance": None, "seed": index, "device": args.device}


def batch_seconds(server: RayServeProcess, model: Path, first: int, count: int,
                  args: argparse.Namespace) -> float:
    """Send ``count`` jobs at once and carry each to its end; the wall time of the whole batch."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(lambda request: run_job(server, request),
                      [texture_request(first + i, model, args) for i in range(count)]))
    return time.perf_counter() - started


def measure(replicas: int, model: Path, tmp: Path, args: argparse.Namespace) -> dict:
    server = start_ray_serve(tmp, secrets.token_urlsafe(24), env={"ATELIER_DEVICE": args.device},
                             replicas=replicas, max_replicas=replicas, model_dirs=(model.parent,))
    try:
        # Warm every replica (each loads the model once), then time whole batches.
        batch_seconds(server, model, 10_000, 2 * replicas, args)
        times = [batch_seconds(server, model, 1000 * (run + 1), args.items, args)
                 for run in range(args.repeats)]
    finally:
        server.stop()
    best = min(times)
    return {"replicas": replicas, "items": args.items, "batch_seconds": [round(t, 3) for t in times],
            "items_per_second": round(args.items / best, 3)}


def build_model(folder: Path, args: argparse.Namespace) -> Path:
    if args.gpu:
        import torch

        from bench.gpu_turbo import build_full_size

        return build_full_size("sdxl", folder / "sdxl-turbo", "cuda", torch.float16)
    from backend.doctor_models import build_tiny_sd

    build_tiny_sd(str(folder / "tiny-sd"))
    return folder / "tiny-sd"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpu", action="store_true", help="full-size SDXL-Turbo on CUDA, fp16")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--items", type=int, default=8, help="textures per batch")
    parser.add_argument("--repeats", type=int, default=2, help="batches timed per replica count (best kept)")
    parser.add_argument("--size", type=int, help="pixels (default 256 on the CPU, 512 with --gpu)")
    parser.add_argument("--steps", type=int, help="denoising steps (default 20 on the CPU, 4 with --gpu)")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    args.device = "cuda" if args.gpu else "cpu"
    args.size = args.size or (512 if args.gpu else 256)
    args.steps = args.steps or (4 if args.gpu else 20)
    with tempfile.TemporaryDirectory(prefix="atelier-batch-bench-") as tmp:
        tmp = Path(tmp)
        model = build_model(tmp / "models", args)
        runs = [measure(replicas, model, tmp, args) for replicas in args.replicas]
    figures = {"device": args.device, "model": "sdxl-turbo (full size)" if args.gpu else "tiny SD",
               "size": args.size, "steps": args.steps, "cpu_count": os.cpu_count(),
               "load_average": [round(load, 1) for load in os.getloadavg()], "runs": runs}
    if len(runs) > 1:
        figures["speedup"] = round(runs[-1]["items_per_second"] / runs[0]["items_per_second"], 2)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
