"""How fast Blender learns that its backend was killed, and whether the next job works after.

Real Blender (the bpy module, Atelier installed as an extension, a private user folder) runs
texture jobs (tiny random SD model, 64 px, ``--steps`` steps, CPU) on its own backend, started
through ``tests/fault_backend.py`` so that it stops at a point of the job drawn with ``--seed``:
while the model loads, after denoising step K, with half its picture written, or after its
result was sent. There the backend is SIGKILLed, and the job is drained as the UI's modal timer
drains it (``client.session.drain``) until it ends. For each kill:

- a job that was under way must end with the backend's error: the time from the kill to that
  error is recorded (p50, p95, max); a job that ended before the kill (an error before its
  point: none expected) is counted apart and never timed;
- a job whose result was sent before the kill must keep it (the result is there to apply);
- the killed process was reaped by Blender's client, its parent (no zombie left): once the
  job's error came, or, killed after its result, once the next job started a fresh backend;
  nothing is left in Atelier's jobs folder;
- the next ``atelier.generate_texture`` call (no fault) finishes on a fresh backend: "survived".

Each kill costs two backend starts (the killed one, then the next job's). Run from the
repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/kill_detect.py [--kills 50] [--seed 1717] [--steps 4]
        [--model tiny-sd-folder] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the fault launcher's helpers (test-only, never shipped)

from fault_backend import FAULT_PAUSE_AT, FAULT_PAUSE_FILE  # noqa: E402 (paths go on first)
from fault_points import fault_python, pause_environment, wait_paused, wait_reaped  # noqa: E402

SIZE = 64
LIMIT_S = 150.0  # a job that neither ends nor pauses by then is a failure of the run


def draw_points(kills: int, seed: int, steps: int) -> list[str]:
    """``kills`` kill points, each a sort drawn then its step drawn, one of 1 .. ``steps`` - 1: after
    the last the job is no longer mid-denoise (a texture writes one file)."""
    rng = random.Random(seed)
    points = []
    for _ in range(kills):
        sort = rng.choice(("load", "step", "write", "result"))
        points.append({"step": f"step:{rng.randint(1, steps - 1)}", "write": "write:1"}.get(sort, sort))
    return points


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile ``share`` (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def build_model(folder: Path) -> Path:
    """The tiny random SD model, built in a subprocess (Blender's process never imports torch)."""
    model = folder / "tiny-sd"
    subprocess.run([sys.executable, "-c", "import sys; from backend.doctor_models import build_tiny_sd; "
                                          "build_tiny_sd(sys.argv[1])", str(model)],
                   cwd=ROOT, check=True, timeout=600)
    return model


def kill_once(bpy, atelier, point: str, pause_file: Path, model: Path, steps: int) -> dict:
    """One job on a backend armed at ``point``, killed there and drained to its end; then the
    next job. What happened, as a row of the report."""
    session, protocol, preferences = atelier.client.session, atelier.core.protocol, atelier.preferences
    session.shutdown()  # the next job starts a backend armed at the point
    os.environ.update(pause_environment(point, pause_file))
    client = session.client_for(preferences.backend_config(session.EXTENSION_DIR))
    request = protocol.TextureRequest(id=session.new_request_id(), prompt="killed", width=SIZE, height=SIZE,
                                      steps=steps, seed=1, model=str(model), device="cpu",
                                      output_dir=preferences.user_folder("jobs"))
    job = session.submit(client, request, label="killed")
    deadline = time.monotonic() + LIMIT_S
    pid = killed_at = ended_before = None
    while not job.done or pid is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the job neither ended nor reached {point} in {LIMIT_S:.0f} s")
        if pid is None and job.error is not None:  # it failed before its point: nothing to time
            ended_before = True
            break
        if pid is None and pause_file.exists():
            pid = wait_paused(pause_file)
            del os.environ[FAULT_PAUSE_AT]  # the fresh backend after this one runs without it
            ended_before = job.done  # after its result: the point comes once the result is sent
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
        if not job.done:
            session.drain(client, timeout=0.005)
    ended_at = time.monotonic()
    row = {"point": point, "pid": pid, "code": job.error.code if job.error else "result",
           "ended": "before the kill" if ended_before else "after the kill"}
    if job.error is not None:
        row["message"] = job.error.message
    if job.result is not None:
        session.release(job.id)  # the result was whole: a job applies it here (not needed to time)
    elif pid is None:  # never killed: the armed backend goes, the next job starts a clean one
        os.environ.pop(FAULT_PAUSE_AT, None)
        session.shutdown()
    elif not ended_before:
        row["detect_s"] = ended_at - killed_at
    if pid is not None and job.error is not None:
        row["reaped"] = wait_reaped(pid)  # the client noticed the death: it has waited for it
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_cube_add()
    try:
        row["next"] = bpy.ops.atelier.generate_texture(prompt="next", width=SIZE, height=SIZE, steps=1,
                                                        seed=2, maps=set()) == {"FINISHED"}
    except RuntimeError as exc:
        row["next"], row["next_error"] = False, str(exc)
    if pid is not None and "reaped" not in row:  # died after its last answer: the next job noticed
        row["reaped"] = wait_reaped(pid)
    row["jobs_folder_empty"] = os.listdir(preferences.user_folder("jobs")) == []
    return row


def summary(rows: list[dict]) -> dict:
    """The figures: detection times of the kills that ended a job under way, results kept,
    jobs that failed before their point (never timed), survivals, and outcomes other than
    those (none expected)."""
    times = [row["detect_s"] for row in rows if "detect_s" in row]
    before = [row for row in rows if row["code"] != "result" and row["ended"] == "before the kill"]
    figures = {
        "kills": len(rows),
        "jobs_ended_by_the_kill": len(times),
        "results_kept": sum(1 for row in rows if row["code"] == "result"),
        "ended_before_the_kill": len(before),
        "wrong_outcome": sum(1 for row in rows if row not in before and row["code"] != (
            "result" if row["point"] == "result" else "backend_exited")),
        "killed_process_reaped": sum(row.get("reaped", False) for row in rows),
        "jobs_folder_empty": sum(row["jobs_folder_empty"] for row in rows),
        "survived": sum(row["next"] for row in rows),
    }
    if times:
        figures.update(detect_p50_ms=round(statistics.median(times) * 1000, 1),
                       detect_p95_ms=round(percentile(times, 0.95) * 1000, 1),
                       detect_max_ms=round(max(times) * 1000, 1))
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1717)
    parser.add_argument("--steps", type=int, default=4, help="denoising steps of the killed jobs")
    parser.add_argument("--model", type=Path, help="a tiny SD folder to use (default: build one)")
    parser.add_argument("--json", type=Path, help="write the rows and figures here")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="atelier-kill-detect-"))
    try:
        model = args.model or build_model(work)
        os.environ.update({"BLENDER_USER_RESOURCES": str(work / "blender-user"), "HF_HUB_OFFLINE": "1",
                           "ATELIER_PYTHON": fault_python(work), "ATELIER_TEXTURE_MODEL": str(model),
                           "ATELIER_DEVICE": "cpu", "OMP_NUM_THREADS": "1",
                           FAULT_PAUSE_FILE: str(work / "pause")})
        import bpy

        from tools.demo import install_extension

        atelier = install_extension(bpy)
        rows = []
        for number, point in enumerate(draw_points(args.kills, args.seed, args.steps), 1):
            pause_file = work / f"pause-{number}"
            row = kill_once(bpy, atelier, point, pause_file, model, args.steps)
            rows.append(row)
            detect = (f"{row['detect_s'] * 1000:7.1f} ms to the error" if "detect_s" in row
                      else "result kept" if row["code"] == "result"
                      else f"ended before the kill ({row['code']}: {row.get('message', '')})")
            print(f"kill {number:3}/{args.kills} at {point:8}: {detect}; next job "
                  f"{'survived' if row['next'] else 'FAILED: ' + row.get('next_error', '')}", flush=True)
        atelier.client.session.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures = summary(rows)
    print(f"\nseed {args.seed}: {figures['kills']} kills, {figures['jobs_ended_by_the_kill']} ended a job "
          f"under way, {figures['results_kept']} after its result (kept), {figures['ended_before_the_kill']} "
          f"failed before the kill")
    if "detect_p50_ms" in figures:
        print(f"kill to the job's error: p50 {figures['detect_p50_ms']} ms, "
              f"p95 {figures['detect_p95_ms']} ms, max {figures['detect_max_ms']} ms")
    print(f"survived {figures['survived']}/{figures['kills']}; killed process reaped "
          f"{figures['killed_process_reaped']}/{figures['kills']}; jobs folder empty "
          f"{figures['jobs_folder_empty']}/{figures['kills']}; wrong outcomes {figures['wrong_outcome']}")
    report = {"seed": args.seed, "steps": args.steps, "figures": figures, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
