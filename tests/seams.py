"""How well a map tiles: the difference across its seam against the differences inside it."""

import numpy as np


def seam_ratio(image, axis):
    """Mean difference across the seam of ``axis`` (1: last column to first; 0: last row to
    first) over the mean difference between neighbours inside the image."""
    lines = np.moveaxis(np.asarray(image, np.float64), axis, 0)
    return float(np.abs(lines[-1] - lines[0]).mean() / np.abs(np.diff(lines, axis=0)).mean())


def _periodic_field(rng, shape, sigma):
    """A random field that tiles: white noise blurred by a Gaussian through the FFT (which
    wraps), scaled to 0..1."""
    freq_y = np.fft.fftfreq(shape[0])[:, None]
    freq_x = np.fft.fftfreq(shape[1])[None, :]
    transfer = np.exp(-2 * (np.pi * sigma) ** 2 * (freq_x**2 + freq_y**2))
    field = np.fft.ifft2(np.fft.fft2(rng.standard_normal(shape)) * transfer).real
    return (field - field.min()) / (field.max() - field.min())


def tiling_noise(shape) -> np.ndarray:
    """A colour texture (float32 H x W x 3, 0..1) that tiles in both directions: colour detail
    at 1, 2 and 4 px over shared grain."""
    rng = np.random.default_rng(0)
    channels = np.stack([_periodic_field(rng, shape, sigma) for sigma in (1.0, 2.0, 4.0)], axis=-1)
    return (0.6 * channels + 0.4 * _periodic_field(rng, shape, 1.0)[..., None]).astype(np.float32)
