"""Maps through the backend against the same work done directly, for 512 and 1024 px textures.

For each engine (``classic``, and ``marigold`` with the tiny random-weight test models, which
process at 64 px: this times Atelier's own work around the models, not the models) and size,
interleaves a maps job through a warm ``serve`` process (all six maps, PNG files written) with
the same work in this process: reading the PNG, the engine (for Marigold the three diffusers
pipeline calls, then the tangent-space normals, height and AO), writing the six PNGs. Reports
medians and their difference. Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/maps_backend.py [--repeats 5] [--json out.json]
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
from core.pbr import MAP_ROLES  # noqa: E402


def picture(path: Path, size: int) -> Path:
    """A size x size RGB PNG with detail at several scales."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    channels = [0.5 + 0.3 * np.sin(2 * np.pi * (k + 2) * x) * np.cos(2 * np.pi * (k + 3) * y)
                for k in range(3)]
    grain = np.random.default_rng(size).random((size, size, 3)) * 0.15
    Image.fromarray(np.rint(np.clip(np.stack(channels, -1) + grain, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def direct_maps(engine: str, pipes: dict, image: Path, out: Path, seed: int) -> None:
    """The maps of ``image`` made in this process, as the backend makes them, PNGs written."""
    from backend.maps_marigold import LoadedPart, maps_from, predict
    from backend.tasks.maps import map_image, read_image
    from core.pbr_classic import derive

    rgb = read_image(str(image))
    if engine == "classic":
        maps = derive(rgb, MAP_ROLES)
    else:
        steps = max(pipe.default_denoising_steps for pipe in pipes.values())
        predictions = {name: predict(pipe, rgb, "off", steps, seed) for name, pipe in pipes.items()}
        maps = maps_from(predictions, MAP_ROLES, "off", LoadedPart(pipes["appearance"], "", None))
    for role in MAP_ROLES:
        map_image(role, maps[role]).save(out / f"{role}.png")


def served(server: ServeProcess, request: dict, counter) -> float:
    """Seconds for one maps job through the backend."""
    event, seconds = server.run({**request, "id": f"m{next(counter)}"})
    if event["type"] != "result":
        raise RuntimeError(event)
    return seconds


def direct(engine: str, pipes: dict, image: Path, out: Path) -> float:
    """Seconds for the same maps made in this process."""
    started = time.perf_counter()
    direct_maps(engine, pipes, image, out, seed=1)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    import diffusers
    import torch

    from core.maps_models import MARIGOLD_PARTS

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from tiny_pipelines import build_tiny_marigold

    torch.set_num_threads(1)  # the backend below runs on one thread too (OMP_NUM_THREADS)
    results = {"repeats": args.repeats, "torch": torch.__version__, "engines": {}}
    with tempfile.TemporaryDirectory(prefix="atelier-maps-bench-") as tmp:
        tmp = Path(tmp)
        model = build_tiny_marigold(tmp / "tiny-marigold")
        pipes = {}
        for part in MARIGOLD_PARTS:
            pipes[part.folder] = getattr(diffusers, part.pipeline).from_pretrained(
                str(model / part.folder), dtype=torch.float32, use_safetensors=True)
            pipes[part.folder].set_progress_bar_config(disable=True)
        server = ServeProcess(env={"HF_HUB_OFFLINE": "1", "ATELIER_DEVICE": "cpu", "OMP_NUM_THREADS": "1"})
        counter = iter(range(10**6))
        for engine, setting in (("classic", "classic"), ("marigold", str(model))):
            for size in args.sizes:
                image = picture(tmp / f"picture-{size}.png", size)
                (tmp / "direct").mkdir(exist_ok=True)
                request = {"type": "maps", "image": str(image), "model": setting,
                           "output_dir": str(tmp / "served"), "seed": 1, "device": "cpu"}
                served(server, request, counter)  # the first job loads the models into the backend
                direct(engine, pipes, image, tmp / "direct")
                times = {"backend": [], "direct": []}
                for _ in range(args.repeats):
                    times["backend"].append(served(server, request, counter))
                    times["direct"].append(direct(engine, pipes, image, tmp / "direct"))
                results["engines"][f"{engine} {size}px"] = {
                    name: round(1000 * statistics.median(values), 1) for name, values in times.items()}
        server.close()

    print(f"all six maps, PNGs written, median of {args.repeats} (CPU, one thread)")
    print(f"{'engine':18} {'direct ms':>10} {'backend ms':>11} {'overhead ms':>12}")
    for name, row in results["engines"].items():
        overhead = row["backend"] - row["direct"]
        print(f"{name:18} {row['direct']:>10.1f} {row['backend']:>11.1f} {overhead:>12.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
