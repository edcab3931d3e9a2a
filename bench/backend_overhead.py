"""Backend overhead on the tiny model, and time from process start to ``hello``.

Interleaves a job through a warm ``serve`` process with the same job as a direct diffusers call
that also writes the PNG, and reports the median difference. Run from the repository root:

    HF_HUB_OFFLINE=1 python bench/backend_overhead.py [--repeats 20] [--json out.json]
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

from bench.serve_client import ServeProcess  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--hello-repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    hello = []
    for _ in range(args.hello_repeats):
        server = ServeProcess(env={"HF_HUB_OFFLINE": "1"})
        hello.append(server.hello_s)
        server.close()

    import torch
    from diffusers import AutoPipelineForText2Image

    from backend.doctor_models import build_tiny_sd

    with tempfile.TemporaryDirectory(prefix="atelier-bench-") as tmp:
        model = build_tiny_sd(Path(tmp) / "tiny-sd")
        pipe = AutoPipelineForText2Image.from_pretrained(str(model), dtype=torch.float32,
                                                         use_safetensors=True)
        pipe.set_progress_bar_config(disable=True)
        server = ServeProcess(env={"HF_HUB_OFFLINE": "1", "ATELIER_DEVICE": "cpu"})

        def through_backend(index: int) -> float:
            event, seconds = server.run({
                "type": "texture", "id": f"b{index}", "prompt": "weathered red bricks", "model": str(model),
                "output_dir": str(Path(tmp) / "served"), "width": args.size, "height": args.size,
                "steps": args.steps, "guidance": 7.5, "seed": index})
            if event["type"] != "result":
                raise RuntimeError(event)
            return seconds

        def direct(index: int) -> float:
            started = time.perf_counter()
            image = pipe(prompt="weathered red bricks", width=args.size, height=args.size,
                         num_inference_steps=args.steps, guidance_scale=7.5,
                         generator=torch.Generator("cpu").manual_seed(index)).images[0]
            image.save(Path(tmp) / f"direct-{index}.png")
            return time.perf_counter() - started

        for index in range(2):  # warm both paths (model load, first-call allocations)
            through_backend(index)
            direct(index)
        served, plain = [], []
        for index in range(args.repeats):
            served.append(through_backend(100 + index))
            plain.append(direct(100 + index))
        server.close()

    overhead = [s - d for s, d in zip(served, plain, strict=True)]
    result = {
        "hello_s_median": statistics.median(hello),
        "hello_s_max": max(hello),
        "direct_ms_median": 1000 * statistics.median(plain),
        "backend_ms_median": 1000 * statistics.median(served),
        "overhead_ms_median": 1000 * statistics.median(overhead),
        "overhead_pct_median": 100 * statistics.median(overhead) / statistics.median(plain),
        "repeats": args.repeats, "size": args.size, "steps": args.steps,
    }
    print(f"start to hello: median {result['hello_s_median'] * 1000:.0f} ms "
          f"(max {result['hello_s_max'] * 1000:.0f} ms, {args.hello_repeats} starts)")
    print(f"tiny SD {args.size}px {args.steps} steps, {args.repeats} interleaved pairs:")
    print(f"  direct diffusers + PNG  {result['direct_ms_median']:8.1f} ms")
    print(f"  through serve           {result['backend_ms_median']:8.1f} ms")
    print(f"  overhead (median pair)  {result['overhead_ms_median']:8.1f} ms "
          f"({result['overhead_pct_median']:.1f} %)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
