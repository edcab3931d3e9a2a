"""A download on the UI's modal path (timers never fire under the bpy module, so the test ticks
the operator itself): the progress bar follows the bytes, and one Esc stops the download with
nothing of it left in the cache and the model list as it was."""

from __future__ import annotations

import time

import pytest
from modal_events import ESC, TIMER
from standin_models import TINY_ID

HELD_FILE = "unet/diffusion_pytorch_model.safetensors"  # the largest: most of the bytes


def download_probe(addon, model: str):
    """A plain-Python stand-in for a running ``atelier.model_download`` (Blender's operator
    instances cannot be made by hand): the operator's own methods on a recording object."""
    models = addon.operators.models
    download = models.ATELIER_OT_model_download

    class Probe(models.ModelJobOperator):
        bl_idname = download.bl_idname
        make_request, report_text, job_label, _check, _check_online = (
            download.make_request, download.report_text, download.job_label, download._check,
            download._check_online)

        def __init__(self):
            self.model, self.revision, self.accept_licence = model, "", False
            self.reports = []

        def report(self, kind, message):
            self.reports.append((kind, message))

    return Probe()


def tick_until(probe, context, done, limit=120.0) -> set[str]:
    """Tick the modal operator until ``done()`` or the job ends; returns the last outcome."""
    state = context.window_manager.atelier
    deadline = time.monotonic() + limit
    outcome = {"PASS_THROUGH"}
    while outcome == {"PASS_THROUGH"} and not done():
        assert time.monotonic() < deadline, (
            f"the download did not get there: {state.stage!r} at {state.progress:.3f}, {probe.reports}")
        time.sleep(0.05)
        outcome = probe.modal(context, TIMER)
    return outcome


def cache_paths(models_cache) -> set[str]:
    """Every path in the Hugging Face home (the cache and Atelier's record beside it)."""
    home = models_cache.parent
    return {str(path.relative_to(home)) for path in home.rglob("*")}


def test_progress_follows_the_bytes_and_esc_leaves_nothing_behind(bpy_module, addon, online, hub,
                                                                 models_cache, job_state, foreign_revision):
    context = bpy_module.context
    foreign_revision("someone/else", "c" * 40)  # the cache is in use already; it must stay as it is
    before = cache_paths(models_cache)
    hub.hold = HELD_FILE  # the stand-in sends half of it, then waits
    probe = download_probe(addon, TINY_ID)
    assert probe._start(context) is not None
    assert tick_until(probe, context, hub.held.is_set) == {"PASS_THROUGH"}
    stage = f"downloading {HELD_FILE}"
    assert tick_until(probe, context, lambda: job_state.stage == stage) == {"PASS_THROUGH"}
    # The held file comes last (smallest first): every byte before it is counted.
    files = hub.repos[TINY_ID].files
    total = sum(len(data) for data in files.values())
    assert job_state.progress == pytest.approx((total - len(files[HELD_FILE])) / total, abs=1e-5)
    assert 0.1 < job_state.progress < 0.9
    assert job_state.running and job_state.job_label == f"Download {TINY_ID}"
    assert probe.modal(context, ESC) == {"RUNNING_MODAL"}
    assert job_state.stage == "cancelling"
    hub.release.set()  # the transfer goes on; the backend stops at its next chunk
    assert tick_until(probe, context, lambda: False) == {"CANCELLED"}
    assert probe.reports == [({"WARNING"}, f"Download {TINY_ID}: cancelled")]
    assert not job_state.running and len(context.window_manager.atelier.models) == 0
    # Nothing of it stays: no snapshot, blob, partial file, lock, empty folder or record.
    assert cache_paths(models_cache) == before
    # The backend serves the next request.
    assert bpy_module.ops.atelier.models_refresh() == {"FINISHED"}
    assert TINY_ID not in {item.name for item in context.window_manager.atelier.models}
