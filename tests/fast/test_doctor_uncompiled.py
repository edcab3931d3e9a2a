"""The doctor's test texture never compiles (on a GPU that would take a minute for a model that
proves nothing about the user's), without touching the environment other threads read, and the
report says what real jobs get."""

from __future__ import annotations

import os
import threading

import pytest

from backend import doctor, fast_path
from core.errors import Cancelled


def test_the_doctor_texture_runs_uncompiled_and_real_jobs_are_described(monkeypatch, tmp_path):
    monkeypatch.setenv("ATELIER_FAST", "on")  # what auto gives on a CUDA GPU: compiling on
    monkeypatch.delenv("ATELIER_COMPILE", raising=False)
    monkeypatch.setenv("ATELIER_COMPILE_CACHE", str(tmp_path / "compiled"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "left-as-found")
    lines = []

    def stop_after_the_texture(step, total, stage):
        if stage == "text end to end":
            raise Cancelled()

    seen = []  # ATELIER_COMPILE as the test texture's pipeline was set up
    real_speed_up = fast_path.speed_up
    monkeypatch.setattr(fast_path, "speed_up", lambda *args: (seen.append(os.environ.get("ATELIER_COMPILE")),
                                                              real_speed_up(*args)))

    with pytest.raises(Cancelled):
        doctor.run_checks(lambda line, problem=False: lines.append(line), device="cpu",
                          before_check=stop_after_the_texture)
    assert "  compile: off (never for the doctor's test texture); real jobs on cpu: fast path on " \
           "(ATELIER_FAST=on), compiled (default)" in lines, lines
    assert seen == [None] and "ATELIER_COMPILE" not in os.environ  # the environment is left alone


def test_not_compiling_holds_on_its_own_thread_only(monkeypatch):
    monkeypatch.setenv("ATELIER_FAST", "on")
    monkeypatch.delenv("ATELIER_COMPILE", raising=False)
    elsewhere = []
    with fast_path.not_compiling("a reason"):
        here = fast_path.resolve("cpu")
        thread = threading.Thread(target=lambda: elsewhere.append(fast_path.resolve("cpu")))
        thread.start()
        thread.join()
    assert (here.compile_mode, here.compile_off) == (None, "a reason")
    assert elsewhere[0].compile_mode == "default"  # another job's thread compiles as set
    assert fast_path.resolve("cpu").compile_mode == "default"  # and so does this one afterwards
