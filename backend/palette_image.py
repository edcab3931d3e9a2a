"""Dominant colours of an image file: k-means in OKLab over its opaque pixels.

``count`` clusters, the best fit of several k-means++ starts from a fixed seed, so an image
always gives the same scheme; each is weighted by the share of the image it covers. Clusters
closer than ``MERGE_DELTA_E`` (deltaE OK) are merged and specks dropped; an image with fewer
colours is filled up to ``count`` with lightness steps of its own, as harmonies are. Roles and
names come from ``core.colors``, as for every scheme.
"""

from __future__ import annotations

from pathlib import Path

from core.colors import PaletteColor, check_count, named, steps_by_hue
from core.errors import TaskError

from . import image_input  # one reader and one set of limits for every image a request names

# Clusters closer than this (deltaE OK, about 4 CIEDE2000 units) are one colour to the eye.
MERGE_DELTA_E = 0.04
# Clusters covering less than this share of the opaque pixels are edge blends or specks.
MIN_COVERAGE = 0.01
# Pixels at most this opaque are ignored (anti-aliased cut-out edges included).
ALPHA_THRESHOLD = 128
# The image is sampled down to at most this many pixels a side (nearest, so no new colours).
SAMPLE_SIZE = 96
_KMEANS_ITERATIONS = 30
# k-means runs from this many k-means++ starts and keeps the one that fits the pixels best: one
# start can put two centres in one noisy region and none in another.
_KMEANS_STARTS = 8
# The starts are drawn from this fixed seed: the scheme depends on the image alone.
KMEANS_SEED = 0


def extract_palette(path: str | Path, count: int) -> list[PaletteColor]:
    """``count`` colours for the image file at ``path``: its dominant colours, largest coverage
    first (``weight`` is the share of the opaque pixels each covers), then, when the image holds
    fewer distinct colours than that, lightness steps of those colours with weight 0 (they cover
    none of it), so a scheme always has the colours asked for."""
    from coloraide import Color

    check_count(count)
    lab, counts = oklab_colours(path)
    centres, weights = kmeans(lab, counts, min(len(lab), count))
    clusters = _merge_close([Color("oklab", list(c)) for c in centres], list(weights))
    clusters.sort(key=lambda item: -item[1])
    total = sum(w for _, w in clusters)
    clusters = [item for item in clusters if item[1] >= MIN_COVERAGE * total][:count]
    total = sum(w for _, w in clusters)
    if len(clusters) < 2:
        raise TaskError("bad_request", f"{path} is one flat colour (all its colours look alike)",
                        hint="use an image with more than one colour, or the harmony source")
    # The dominant colours come first and unchanged; steps of their hues fill up to the count.
    filled = steps_by_hue([c for c, _ in clusters], count)[:count]
    weights = [w / total for _, w in clusters]
    return named(filled, weights + [0.0] * (len(filled) - len(weights)))


def oklab_colours(path: str | Path):
    """The distinct colours of the image's opaque (sampled) pixels in OKLab, and how many pixels
    hold each; an image of one flat colour is refused."""
    import numpy as np
    from coloraide import Color

    values, counts = np.unique(_opaque_pixels(Path(path)), axis=0, return_counts=True)
    if len(values) == 1:
        raise TaskError("bad_request", f"{path} is one flat colour",
                        hint="use an image with more than one colour, or the harmony source")
    lab = np.array([Color("srgb", list(v / 255.0)).convert("oklab").coords() for v in values])
    return lab, counts.astype(float)


def _opaque_pixels(path: Path):
    import numpy as np
    from PIL import Image

    with image_input.opened(str(path)) as image:
        # JPEG decodes straight to a reduced size; other formats decode whole, in their own
        # mode (bounded by MAX_PIXELS), and are sampled before they are converted: converting
        # first would hold a second full-size copy (a 6000 x 6000 PNG peaked at 275 MiB, now 137).
        image.draft("RGB", (SAMPLE_SIZE, SAMPLE_SIZE))
        # Nearest keeps every sampled pixel as it is: no resampling filter invents blends.
        image.thumbnail((SAMPLE_SIZE, SAMPLE_SIZE), Image.Resampling.NEAREST)
        data = np.asarray(image.convert("RGBA")).reshape(-1, 4)
    opaque = data[data[:, 3] > ALPHA_THRESHOLD, :3]
    if len(opaque) == 0:
        raise TaskError("bad_request", f"image {str(path)!r} is fully transparent",
                        hint="use an image with visible pixels")
    return opaque


def kmeans(points, weights, k: int):
    """Weighted k-means in OKLab: the best fit (least weighted squared distance) of
    ``_KMEANS_STARTS`` k-means++ starts; returns the centres and the weight each covers."""
    import numpy as np

    rng = np.random.default_rng(KMEANS_SEED)
    starts = [single_start(points, weights, k, rng) for _ in range(_KMEANS_STARTS)]
    centres = min(starts, key=lambda found: inertia(points, weights, found))
    label = _nearest(points, centres)
    sizes = np.bincount(label, weights=weights, minlength=len(centres))
    return centres[sizes > 0], sizes[sizes > 0]


def single_start(points, weights, k: int, rng):
    """The centres one k-means++ start drawn from ``rng`` settles on."""
    return _lloyd(points, weights, _kmeans_plus_plus(points, weights, k, rng))


def inertia(points, weights, centres) -> float:
    """How badly ``centres`` fit the points: the weighted sum of squared distances to the
    nearest centre (k-means keeps the start where this is least)."""
    import numpy as np

    distance = ((points[:, None, :] - centres[None]) ** 2).sum(-1)
    return float((distance[np.arange(len(points)), distance.argmin(axis=1)] * weights).sum())


def _nearest(points, centres):
    """The index of each point's nearest centre."""
    return ((points[:, None, :] - centres[None]) ** 2).sum(-1).argmin(axis=1)


def _kmeans_plus_plus(points, weights, k: int, rng):
    """``k`` starting centres, each drawn with odds of its weight times its squared distance to
    the centres already chosen (Arthur and Vassilvitskii's k-means++)."""
    import numpy as np

    centres = [points[rng.choice(len(points), p=weights / weights.sum())]]
    for _ in range(1, k):
        distance = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        chance = distance * weights
        if chance.sum() <= 0:
            break
        centres.append(points[rng.choice(len(points), p=chance / chance.sum())])
    return np.array(centres)


def _lloyd(points, weights, centres):
    """Lloyd's iterations from ``centres`` until they settle."""
    import numpy as np

    for _ in range(_KMEANS_ITERATIONS):
        label = _nearest(points, centres)
        moved = np.array([
            np.average(points[label == j], axis=0, weights=weights[label == j])
            if weights[label == j].sum() > 0 else centres[j]
            for j in range(len(centres))
        ])
        if np.allclose(moved, centres, atol=1e-7):
            break
        centres = moved
    return centres


def _merge_close(colors: list, weights: list) -> list[tuple]:
    """Merge clusters closer than ``MERGE_DELTA_E``, largest first, by weighted average."""
    from coloraide import Color

    order = sorted(range(len(colors)), key=lambda i: -weights[i])
    merged: list[list] = []  # [colour, weight]
    for i in order:
        for entry in merged:
            if entry[0].delta_e(colors[i], method="ok") < MERGE_DELTA_E:
                entry[0] = Color.average([entry[0], colors[i]], [entry[1], weights[i]], space="oklab")
                entry[1] += weights[i]
                break
        else:
            merged.append([colors[i], weights[i]])
    return [(c, w) for c, w in merged]
