"""How long the classic maps engine takes on the CPU for 512 and 1024 px textures.

Times ``core.pbr_classic.derive`` making all six maps (normal, height, roughness, metallic, ao,
albedo) from a synthetic texture with detail at every scale, once with plain edges and once
wrapping both axes (a seamless texture), each the median of several runs. numpy alone, as in
Blender and the backend; reading and writing the PNG files is not included. Run from the
repository root:

    .venv/bin/python bench/maps_classic.py [--sizes 512 1024] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import median_ms  # noqa: E402
from core.pbr import MAP_ROLES  # noqa: E402 (the checkout's root goes on the path first)
from core.pbr_classic import derive  # noqa: E402


def _texture(size: int) -> np.ndarray:
    """A tiling RGB texture: white noise with its spectrum falling as 1/f (detail at every
    scale, as photographs of stone or wood have), scaled to 0..1."""
    rng = np.random.default_rng(0)
    freq = np.hypot(np.fft.fftfreq(size)[:, None], np.fft.rfftfreq(size)[None, :])
    falloff = 1.0 / np.maximum(freq, 1.0 / size)
    channels = [np.fft.irfft2(np.fft.rfft2(rng.standard_normal((size, size))) * falloff, s=(size, size))
                for _ in range(3)]
    texture = np.stack(channels, axis=-1)
    return ((texture - texture.min()) / np.ptp(texture)).astype(np.float32)



def _time_size(size: int, repeats: int) -> dict[str, float]:
    """Median milliseconds for all six maps of a ``size`` px texture, per seamless mode."""
    texture = _texture(size)
    derive(texture, MAP_ROLES)  # warm-up: the first call sets up numpy's FFT plans
    return {seamless: median_ms(lambda seamless=seamless: derive(texture, MAP_ROLES, seamless), repeats)
            for seamless in ("off", "xy")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    results = {"numpy": np.__version__, "cpus": os.cpu_count(), "repeats": args.repeats,
               "maps": list(MAP_ROLES), "ms": {}}
    print(f"classic maps, all six, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"median of {args.repeats}")
    for size in args.sizes:
        timings = _time_size(size, args.repeats)
        results["ms"][str(size)] = timings
        print(f"{size} px: {timings['off']:.0f} ms (seamless off), {timings['xy']:.0f} ms (seamless xy)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
