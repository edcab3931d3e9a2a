"""How long Atelier's backend outlives Blender: after a crash, and after a quit with jobs under way.

Each round starts a real Blender (the bpy module in a process of its own, Atelier installed as an
extension, a private user folder and TMPDIR; ``tests/quit_blender_session.py``) that starts two
texture jobs (tiny random SD model, 256 px, 150 steps, CPU): one running, one queued. Then:

- crash: Blender is SIGKILLed; the time until its backend process is gone (it reads end of file
  on its stdin, cancels the running job at its next step and exits) is recorded;
- quit: Blender quits (``bpy.ops.wm.quit_blender()``, then the interpreter's exit); the time from
  the quit to the end of Blender's process is recorded, and the backend must be gone with it.

Every round also checks that nothing is left: after a quit, Atelier's jobs folder is empty;
after a crash, the next round's first job removes what the crash left (``client/job_folder.py``).
Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/quit_exit.py [--rounds 5] [--model tiny-sd-folder]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "faults"))

from quit_sessions import seconds_until_gone, start  # noqa: E402

from bench.kill_detect import build_model, percentile  # noqa: E402 (paths go on first)

GONE_WITHIN = 60.0  # seconds past which a backend still running is a failure of the run


def crash_once(folder: Path, user: Path, model: Path) -> float:
    """Seconds from Blender's SIGKILL until its backend is gone."""
    session = start("stay", folder, user, model)
    report = session.wait_report()
    killed_at = time.monotonic()
    os.kill(session.process.pid, signal.SIGKILL)
    seconds_until_gone(report["backend_pid"], GONE_WITHIN)
    seconds = time.monotonic() - killed_at
    session.process.wait()
    return seconds


def quit_once(folder: Path, user: Path, model: Path) -> float:
    """Seconds from the quit to the end of Blender's process; the backend is gone by then."""
    session = start("quit", folder, user, model)
    report = session.wait_report()
    quit_from = time.monotonic()
    session.quit()  # the session waits for this word to quit
    assert session.process.wait(timeout=GONE_WITHIN) == 0, session.log()
    seconds = time.monotonic() - quit_from
    seconds_until_gone(report["backend_pid"], 1.0)
    assert os.listdir(report["jobs_folder"]) == [], os.listdir(report["jobs_folder"])
    return seconds


def summary(values: list[float]) -> dict:
    return {"p50_s": round(statistics.median(values), 3), "p95_s": round(percentile(values, 0.95), 3),
            "max_s": round(max(values), 3), "runs": len(values)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", type=Path, help="a tiny SD folder to use (default: build one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="atelier-quit-bench-") as scratch:
        scratch = Path(scratch)
        model = args.model or build_model(scratch)
        user = scratch / "user"  # shared: each round's first job sweeps what a crash left
        crashes, quits = [], []
        for round_number in range(args.rounds):
            crashes.append(crash_once(scratch / f"crash-{round_number}", user, model))
            quits.append(quit_once(scratch / f"quit-{round_number}", user, model))
            print(f"round {round_number + 1}: backend gone {crashes[-1]:.2f} s after the crash; "
                  f"quit took {quits[-1]:.2f} s", flush=True)
    figures = {"backend_exit_after_crash": summary(crashes), "quit_with_jobs_under_way": summary(quits)}
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
