"""Classic height: 0.5 at the mean surface, inside 0..1, colour edges without cliffs, fine
detail kept."""

import numpy as np
import pytest

from core import pbr_classic


def _pictures():
    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[0:96, 0:128]
    edge = np.where(cols < 64, 0.0, 1.0)
    return {
        "noise": rng.random((96, 128, 3)),
        "checker": ((rows // 3 + cols // 3) % 2).astype(np.float64),
        "edge": edge,
        "bright corner": np.where((rows < 10) & (cols < 10), 1.0, 0.2),
        "smallest": rng.random((8, 8)),
    }


@pytest.mark.parametrize("seamless", ["off", "xy"])
@pytest.mark.parametrize("name", sorted(_pictures()))
def test_height_is_centred_on_one_half_and_inside_zero_to_one(name, seamless):
    picture = _pictures()[name]
    height = pbr_classic.derive(picture, ["height"], seamless=seamless)["height"]
    assert height.dtype == np.float32 and height.shape == picture.shape[:2]
    assert height.min() >= 0.0 and height.max() <= 1.0
    assert abs(height.mean(dtype=np.float64) - 0.5) < 1e-6
    assert height.max() - height.min() > 0.1  # every one of these pictures has relief


def test_a_flat_picture_has_flat_height():
    height = pbr_classic.height_from_color(np.full((32, 32, 3), 0.7, np.float32))
    assert np.array_equal(height, np.full((32, 32), 0.5, np.float32))


def test_faint_noise_stays_nearly_flat():
    """Compression noise on a plain wall is not stretched into full relief."""
    rng = np.random.default_rng(4)
    height = pbr_classic.height_from_color(0.6 + 0.004 * rng.standard_normal((128, 128)))
    assert np.abs(height - 0.5).max() < 0.1


def _edge_steps(picture):
    """Largest height step across each of the picture's two edges: strong (column 127 to 128)
    and faint (255 to 256)."""
    height = pbr_classic.height_from_color(picture)
    steps = np.abs(np.diff(height, axis=1)).max(axis=0)
    return steps[127], steps[255]


def _two_edges():
    """Flat strips: 0.1, 0.9, 0.95. One strong edge (0.8) and one faint edge (0.05), far
    enough apart (128 px) not to touch through the filters."""
    picture = np.full((256, 384), 0.95, np.float32)
    picture[:, :128], picture[:, 128:256] = 0.1, 0.9
    return picture


def test_a_strong_colour_edge_is_no_cliff():
    """Luminance steps are softly limited: an edge 16 times stronger than a faint one rises at
    most 1.5 times as steeply (measured 1.4); followed as it is, it would rise 16 times."""
    strong, faint = _edge_steps(_two_edges())
    assert faint > 0.0
    assert strong <= 1.5 * faint


def test_without_the_slope_limit_the_edge_is_a_cliff(monkeypatch):
    """The same check on the engine with its slope limit removed: the strong edge fails it."""
    monkeypatch.setattr(pbr_classic, "GRADIENT_LIMIT", np.inf)
    strong, faint = _edge_steps(_two_edges())
    assert strong > 10 * faint


def _fine_stripes_share(height):
    """How much of a height field's variation (spectral energy) lies in the 4 px stripes."""
    spectrum = np.abs(np.fft.rfft2(height - height.mean()))
    return spectrum[0, height.shape[1] // 4] / np.sqrt((spectrum**2).sum())


def _detailed_picture():
    """A coarse 64 px pattern of contrast 0.5 and, over it, vertical stripes 4 px apart of
    contrast 0.04: detail at the finest scale a texture has, 12 times fainter."""
    rows, cols = np.mgrid[0:256, 0:256]
    coarse = 0.5 + 0.25 * np.sin(2 * np.pi * cols / 64) * np.sin(2 * np.pi * rows / 64)
    return coarse + 0.02 * np.sin(2 * np.pi * cols / 4 + 0.3)


def _blurred(height, sigma):
    freq_y, freq_x = np.fft.fftfreq(height.shape[0])[:, None], np.fft.rfftfreq(height.shape[1])
    transfer = np.exp(-2 * (np.pi * sigma) ** 2 * (freq_x**2 + freq_y**2))
    return np.fft.irfft2(np.fft.rfft2(height) * transfer, s=height.shape)


def test_fine_detail_is_kept_in_height():
    """The stripes make as large a part of the height as of the picture (0.110 against 0.112
    measured): at least half is required. A height blurred by 2 px, as a single coarse scale
    would give, keeps under a hundredth of them and fails the same check."""
    picture = _detailed_picture()
    height = pbr_classic.height_from_color(picture, wrap_x=True, wrap_y=True)
    required = 0.5 * _fine_stripes_share(picture)
    assert _fine_stripes_share(height) >= required
    assert _fine_stripes_share(_blurred(height, 2.0)) < required


def test_darker_reads_deeper():
    """Crevices are dark: a dark spot is a pit (below 0.5), a bright one a bump."""
    picture = np.full((64, 64), 0.5)
    picture[20:24, 20:24], picture[40:44, 40:44] = 0.1, 0.9
    height = pbr_classic.height_from_color(picture)
    assert height[21, 21] < 0.45 and height[41, 41] > 0.55


def test_height_follows_luminance_weights():
    """The same pattern in green (most of luminance) gives more relief than in blue (least)."""
    rows, cols = np.mgrid[0:64, 0:128]
    pattern = 0.5 + 0.3 * np.sin(2 * np.pi * rows / 8) * np.sin(2 * np.pi * cols / 8)
    picture = np.full((64, 128, 3), 0.5)
    picture[:, :64, 1], picture[:, 64:, 2] = pattern[:, :64], pattern[:, 64:]
    height = pbr_classic.height_from_color(picture)
    green, blue = np.ptp(height[8:56, 8:56]), np.ptp(height[8:56, 72:120])
    assert green > 3 * blue > 0
