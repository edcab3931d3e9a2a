"""The GPU benchmark's verdict: a mode outside its PSNR bound is never the fastest, a goal met
only by such modes is not met, and every such mode is listed (the script then exits non-zero)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from bench.gpu_fast import goals
from bench.gpu_fast_modes import EAGER, FAST, Plan, compare, psnr_failures, with_best


def row(backend_ms: float, psnr_db: float, ok: bool) -> dict:
    return {"backend_ms": backend_ms, "psnr_db": psnr_db, "psnr_bound_db": 30.0, "psnr_ok": ok}


def test_a_mode_outside_its_bound_is_never_the_fastest():
    entry = with_best({"modes": {"eager": row(80.0, 100.0, True), "fast": row(40.0, 45.0, True),
                                 "noise": row(10.0, 8.0, False)}})
    assert (entry["best_mode"], entry["backend_ms"]) == ("fast", 40.0)
    assert entry["outside_psnr_bound"] == ["noise"]


def test_a_goal_reached_only_outside_the_bound_is_not_met():
    entry = with_best({"modes": {"compiled": row(10.0, 8.0, False), "unchecked": {"backend_ms": 5.0}}})
    assert "backend_ms" not in entry  # a mode without a reference (psnr_ok missing) does not count either
    sd = {row["goal"]: row for row in goals({"items": {"sd-turbo": entry}})}["SD-Turbo backend ms"]
    assert sd["value"] is None and sd["met"] is False and sd["outside_psnr_bound"] == ["compiled"]


def test_every_mode_outside_its_bound_is_listed_nested_ones_too():
    items = {"sd-turbo": {"modes": {"eager": row(80.0, 100.0, True), "bad": row(10.0, 12.5, False)}},
             "extras": {"sdxl-turbo": {"modes": {"worse": row(9.0, 3.0, False)}}}}
    assert psnr_failures(items) == ["sd-turbo / bad: 12.5 dB < 30 dB",
                                    "extras / sdxl-turbo / worse: 3.0 dB < 30 dB"]


def test_each_mode_is_compared_with_the_reference_and_judged_by_its_bound():
    bench = SimpleNamespace(references={})
    plan = Plan("sd", 8)
    image = np.zeros((8, 8, 3), np.uint8)
    reference, close, far = {}, {}, {}
    compare(bench, EAGER, plan, reference, image)
    compare(bench, FAST, plan, close, image + 1)  # 48 dB
    compare(bench, FAST, plan, far, image + 16)  # 24 dB
    assert reference["psnr_db"] == 100.0 and reference["psnr_ok"] is True
    assert close["psnr_ok"] is True and far["psnr_ok"] is False and far["psnr_bound_db"] == 30.0
    unreferenced = {}
    compare(bench, FAST, Plan("sdxl", 8), unreferenced, image)  # its reference was never measured
    assert unreferenced == {"psnr_ok": None}
