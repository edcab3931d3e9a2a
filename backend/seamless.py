"""Seamless (tileable) output: circular padding in the UNet's and the VAE's convolutions.

A convolution that pads with zeros sees a border; one that pads circularly sees the opposite
edge instead, so the image wraps around. For one axis only, that axis pads circularly and the
other keeps zeros. The patch lives on the module instances and is removed afterwards, so the
cached pipeline serves the next (non-seamless) job exactly as loaded.

A tiled VAE (the low-VRAM mode) decodes and encodes in one pass inside the block: the tiles would
each wrap around themselves. A seamless texture therefore needs the VAE memory of the whole image.

The VAE encoder's ``Downsample2D`` pads explicitly (right and bottom by one) before a conv
without padding; it is patched the same way so image-to-image input wraps as well.
"""

from __future__ import annotations

import contextlib
import types

import torch
import torch.nn.functional as F
from torch import nn

# Marks a Downsample2D whose explicit zero pad now happens circularly inside its conv;
# any value other than 0 makes Downsample2D skip its own padding.
_PADDED_IN_CONV = "atelier-circular"


@contextlib.contextmanager
def seamless_tiling(pipe, mode: str):
    """Make ``pipe`` wrap on ``mode`` ('x', 'y', 'xy'; 'off' does nothing) inside the block."""
    if mode == "off":
        yield
        return
    wrap_x, wrap_y = "x" in mode, "y" in mode
    restore = []
    try:
        for model in (getattr(pipe, "unet", None), getattr(pipe, "vae", None)):
            if model is not None:
                restore.extend(patch_module(model, wrap_x, wrap_y))
        restore.extend(_untiled(getattr(pipe, "vae", None)))
        yield
    finally:
        for undo in reversed(restore):
            undo()


def _untiled(vae) -> list:
    """Turn a tiled VAE (``ATELIER_LOW_VRAM``) to one pass; returns the undo step. Each tile
    would wrap around itself, not around the image, and the image's edges would not meet."""
    if not getattr(vae, "use_tiling", False):
        return []
    vae.use_tiling = False
    return [lambda: setattr(vae, "use_tiling", True)]


def patch_module(model: nn.Module, wrap_x: bool, wrap_y: bool) -> list:
    """Patch every padded Conv2d (and explicit-pad Downsample2D) in ``model``; returns undo steps."""
    from diffusers.models.downsampling import Downsample2D

    undo = []
    for module in model.modules():
        if isinstance(module, Downsample2D) and module.use_conv and module.padding == 0:
            undo.append(_patch_conv(module.conv, (0, 1, 0, 1), wrap_x, wrap_y))
            module.padding = _PADDED_IN_CONV
            undo.append(lambda m=module: setattr(m, "padding", 0))
        elif isinstance(module, nn.Conv2d) and isinstance(module.padding, tuple) and any(module.padding):
            pad_h, pad_w = module.padding
            undo.append(_patch_conv(module, (pad_w, pad_w, pad_h, pad_h), wrap_x, wrap_y))
    return undo


def _patch_conv(conv: nn.Conv2d, pad: tuple, wrap_x: bool, wrap_y: bool):
    """Pad ``conv``'s input ourselves (left, right, top, bottom), circular on wrapped axes."""
    left, right, top, bottom = pad

    def conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias):
        x = F.pad(input, (left, right, 0, 0), mode="circular" if wrap_x else "constant")
        x = F.pad(x, (0, 0, top, bottom), mode="circular" if wrap_y else "constant")
        return F.conv2d(x, weight, bias, self.stride, 0, self.dilation, self.groups)

    conv._conv_forward = types.MethodType(conv_forward, conv)
    return lambda: conv.__dict__.pop("_conv_forward", None)
