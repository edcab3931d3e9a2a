"""The remote backend's cost: ``ray-serve`` start-up, and a warm job over HTTP against the same job
through the stdio ``serve`` process, on the tiny model (one torch thread each).

A job over HTTP is the whole round trip a client makes: submit, read the event stream to its
result, fetch the result file by role, delete the job. Jobs alternate between the two so load on
the machine falls on both alike. Run from the repository root:

    HF_HUB_OFFLINE=1 python bench/remote_overhead.py [--repeats 10] [--size 64] [--steps 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the server starter the tests use

from ray_server import call, run_job, start_ray_serve  # noqa: E402

from bench.serve_client import ServeProcess  # noqa: E402

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    from backend.doctor_models import build_tiny_sd

    with tempfile.TemporaryDirectory(prefix="atelier-bench-") as tmp:
        model = build_tiny_sd(Path(tmp) / "tiny-sd")
        env = {**ONE_THREAD, "HF_HUB_OFFLINE": "1", "ATELIER_DEVICE": "cpu"}

        def request(name: str) -> dict:
            return {"type": "texture", "id": name, "prompt": "weathered red bricks", "model": str(model),
                    "output_dir": str(Path(tmp) / "out"), "width": args.size, "height": args.size,
                    "steps": args.steps, "seed": 7}

        started = time.perf_counter()
        server = start_ray_serve(Path(tmp), secrets.token_urlsafe(24), env=env,
                                 model_dirs=(str(model.parent),))
        startup_s = time.perf_counter() - started
        stdio = ServeProcess(env=env)
        try:
            def over_http(name: str) -> float:
                began = time.perf_counter()
                job, events = run_job(server, request(name))
                if events[-1]["type"] != "result":
                    raise RuntimeError(events[-1])
                if call(server, "GET", f"/v1/jobs/{job}/files/base_color").status_code != 200:
                    raise RuntimeError("the result file could not be fetched")
                call(server, "DELETE", f"/v1/jobs/{job}")
                return time.perf_counter() - began

            def through_stdio(name: str) -> float:
                event, seconds = stdio.run(request(name))
                if event["type"] != "result":
                    raise RuntimeError(event)
                return seconds

            began = time.perf_counter()
            over_http("warm-http")  # loads the model in the replica
            first_http_s = time.perf_counter() - began
            through_stdio("warm-stdio")
            http, local = [], []
            for index in range(args.repeats):
                http.append(over_http(f"h{index}"))
                local.append(through_stdio(f"s{index}"))
        finally:
            stdio.close()
            server.stop()

    figures = {
        "startup_s": round(startup_s, 2), "first_job_http_s": round(first_http_s, 2),
        "http_ms": round(1000 * statistics.median(http), 1),
        "stdio_ms": round(1000 * statistics.median(local), 1),
        "size": args.size, "steps": args.steps, "repeats": args.repeats,
    }
    figures["overhead_ms"] = round(figures["http_ms"] - figures["stdio_ms"], 1)
    print(f"ray-serve start to ready: {figures['startup_s']} s; first job (loads the model): "
          f"{figures['first_job_http_s']} s")
    print(f"warm {args.size} px {args.steps}-step job, median of {args.repeats}: over HTTP "
          f"{figures['http_ms']} ms, stdio {figures['stdio_ms']} ms, overhead {figures['overhead_ms']} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
