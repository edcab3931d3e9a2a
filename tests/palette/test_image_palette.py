"""Colours from an image: noisy regions, determinism, the best of several k-means starts, OKLab
clustering, bounded decoding."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from backend_process import ROOT
from coloraide import Color
from PIL import Image, ImageDraw

from backend import palette_image
from backend.tasks import palette

REGIONS = {"navy": (20, 30, 90), "gold": (220, 180, 40), "crimson": (180, 20, 40),
           "near-black": (15, 15, 18)}
NOISE = 25.0  # standard deviation of the noise, in 8-bit steps


def _oklab(rgb) -> np.ndarray:
    return np.array(Color("srgb", [v / 255 for v in rgb]).convert("oklab").coords())


def _four_noisy_regions(path, noise_seed: int):
    """Four equal quarters in ``REGIONS``' colours with Gaussian noise; returns the path and
    each region's mean colour in OKLab (what a cluster of exactly that region averages to)."""
    rng = np.random.default_rng(noise_seed)
    pixels = np.zeros((128, 128, 3))
    quarters = [(slice(0, 64), slice(0, 64)), (slice(0, 64), slice(64, 128)),
                (slice(64, 128), slice(0, 64)), (slice(64, 128), slice(64, 128))]
    for (rows, columns), colour in zip(quarters, REGIONS.values(), strict=True):
        pixels[rows, columns] = colour
    data = np.clip(pixels + rng.normal(0, NOISE, pixels.shape), 0, 255).round().astype(np.uint8)
    Image.fromarray(data).save(path)
    means = {}
    for (rows, columns), name in zip(quarters, REGIONS, strict=True):
        region = data[rows, columns].reshape(-1, 3)
        means[name] = np.mean([_oklab(v) for v in region], axis=0)
    return path, means


@pytest.mark.parametrize("noise_seed", [1, 2, 3])
def test_four_noisy_regions_give_four_colours_of_a_quarter_each(tmp_path, noise_seed):
    """One k-means start could put two centres in one region and none in another (two reds,
    and a quarter of the image lost); the best of several finds each region once."""
    path, means = _four_noisy_regions(tmp_path / "quarters.png", noise_seed)
    found = palette_image.extract_palette(path, 4)
    assert len(found) == 4 and all(c.weight > 0 for c in found)
    for name, mean in means.items():
        nearest = min(found, key=lambda c: np.linalg.norm(_oklab(_rgb(c.hex)) - mean))
        assert np.linalg.norm(_oklab(_rgb(nearest.hex)) - mean) < 0.03, (name, [c.hex for c in found])
        assert nearest.weight == pytest.approx(0.25, abs=0.03), (name, [c.weight for c in found])


def _rgb(hex_value: str) -> tuple:
    return tuple(int(hex_value[i:i + 2], 16) for i in (1, 3, 5))


def _noise(path, size: int = 48):
    """Uniform random colours, every pixel its own: no clusters to find, so where k-means starts
    decides where it ends (unlike clean regions, where every start finds the same colours)."""
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def test_an_image_gives_the_same_scheme_whatever_the_request_seed(make_job, tmp_path):
    """The scheme depends on the image alone: extracted twice, and through the task with two
    different request seeds, it is the same colours with the same shares."""
    path = _noise(tmp_path / "noise.png")
    first = palette_image.extract_palette(path, 12)  # twelve clusters: many ways for starts to end
    assert [(c.hex, c.weight) for c in palette_image.extract_palette(path, 12)] == \
        [(c.hex, c.weight) for c in first]
    schemes = []
    for seed in (1, 2**31 - 1):
        request, job = make_job(source="image", image=str(path), count=12, seed=seed)
        schemes.append(json.dumps(palette.run(request, job).data["colors"]))
    assert schemes[0] == schemes[1]


SEVERAL_STARTS = 4


def test_k_means_keeps_the_best_of_several_starts(tmp_path):
    """On noise each k-means++ start settles somewhere else; the clusters kept fit the pixels at
    least as well as each of the first starts drawn from the fixed seed (one start alone would
    keep the first, which fits worse than a later one here)."""
    points, weights = palette_image.oklab_colours(_noise(tmp_path / "noise.png"))
    centres, _ = palette_image.kmeans(points, weights, 6)
    kept = palette_image.inertia(points, weights, centres)
    rng = np.random.default_rng(palette_image.KMEANS_SEED)
    singles = [palette_image.inertia(points, weights, palette_image.single_start(points, weights, 6, rng))
               for _ in range(SEVERAL_STARTS)]
    assert singles[0] > min(singles)  # the starts matter on this image: the first is not the best
    assert kept <= min(singles), (kept, singles)


def test_colours_are_clustered_as_the_eye_sees_them_in_oklab(tmp_path):
    """Greys 0, 36 and 80 (8-bit) and white in equal parts, three colours asked for. In RGB, 36
    is nearer black (36 steps) than 80 (44 steps), so black and 36 would become one dark grey;
    to the eye (OKLab lightness 0, 0.26, 0.43, 1) 36 is nearer 80, so black stays black."""
    image = Image.new("RGB", (64, 64))
    for index, grey in enumerate([0, 36, 80, 255]):
        ImageDraw.Draw(image).rectangle((index * 16, 0, index * 16 + 15, 63), fill=(grey,) * 3)
    image.save(tmp_path / "greys.png")
    found = {c.hex: c.weight for c in palette_image.extract_palette(tmp_path / "greys.png", 3)}
    assert found.pop("#000000") == pytest.approx(0.25) and found.pop("#ffffff") == pytest.approx(0.25)
    (merged, weight), = found.items()
    assert weight == pytest.approx(0.5) and 36 < _rgb(merged)[0] < 80, merged


# What decoding a large image may add to the process's peak memory, as a multiple of the image
# held once in Pillow's own layout (4 bytes a pixel for RGB): converting the whole image before
# sampling it held it twice.
PEAK_OF_ONE_DECODE = 1.5
# The peak is read from /proc (VmHWM, reset when the process starts its own program; the
# ru_maxrss of a child process starts at its parent's size).
_MEASURE = """
import sys
from backend import palette_image
import coloraide, numpy, PIL.Image, PIL.PngImagePlugin

def peak_kib():
    status = open("/proc/self/status").read().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))

before = peak_kib()
palette_image.extract_palette(sys.argv[1], 5)
print(peak_kib() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc")
def test_a_large_png_is_decoded_once_before_it_is_sampled(tmp_path):
    width, height = 5000, 4000
    image = Image.new("RGB", (width, height), (30, 60, 140))
    ImageDraw.Draw(image).ellipse((500, 500, 3500, 3500), fill=(230, 180, 40))
    image.save(tmp_path / "large.png", compress_level=1)
    del image
    grown_kib = int(subprocess.run([sys.executable, "-c", _MEASURE, str(tmp_path / "large.png")],
                                   cwd=ROOT, check=True, capture_output=True, text=True,
                                   timeout=120).stdout)
    one_decode_kib = width * height * 4 / 1024
    assert grown_kib < PEAK_OF_ONE_DECODE * one_decode_kib, \
        f"peak memory grew {grown_kib / 1024:.0f} MiB; one decode is {one_decode_kib / 1024:.0f} MiB"
