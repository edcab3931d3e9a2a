"""The GPU benchmark's preflight: before any model work it names every library that does not
import, and a real run without a CUDA GPU, in one message; otherwise it prints the versions."""

from __future__ import annotations

import importlib.metadata

import pytest
import torch

from bench import gpu_setup
from bench.gpu_setup import preflight


def test_every_library_that_fails_to_import_is_named_before_any_work():
    with pytest.raises(SystemExit) as stopped:
        preflight(need_cuda=False, modules=(("numpy", "numpy"), ("atelier_no_such_library", "x"),
                                            ("atelier_nor_this_one", "y")))
    message = str(stopped.value.code)
    assert "atelier_no_such_library: ModuleNotFoundError" in message
    assert "atelier_nor_this_one: ModuleNotFoundError" in message
    assert "numpy" not in message and ".cache/gpu-wheels" in message  # what to change


def test_the_versions_come_in_one_line():
    line = preflight(need_cuda=False, modules=(("numpy", "numpy"), ("torch", "torch")))
    numpy, torch_ = (importlib.metadata.version(name) for name in ("numpy", "torch"))
    assert line == f"preflight ok: numpy {numpy}, torch {torch_}"


def test_a_real_run_needs_a_cuda_gpu():
    if torch.cuda.is_available():  # a GPU machine: the line names the GPU
        line = preflight(need_cuda=True, modules=(("torch", "torch"),))
        assert line.endswith(f" on {torch.cuda.get_device_name(0)}"), line
        return
    with pytest.raises(SystemExit) as stopped:
        preflight(need_cuda=True, modules=(("torch", "torch"),))
    assert "sees no CUDA GPU" in str(stopped.value.code) and "--tiny" in str(stopped.value.code)


def test_a_library_only_some_items_need_is_named_and_the_run_goes_on(monkeypatch):
    monkeypatch.setitem(gpu_setup.PREFLIGHT_OPTIONAL, "atelier_optional_library", "the extra rows fail")
    line = preflight(need_cuda=False, modules=(("numpy", "numpy"), ("atelier_optional_library", "extra")))
    assert line.startswith(f"preflight ok: numpy {importlib.metadata.version('numpy')}, ")
    assert "extra NOT LOADED, the extra rows fail (atelier_optional_library: ModuleNotFoundError" in line
