"""The early pixels Blender shows are exactly the file checked when their event came
(``raw_pixels.read_pixels``): opened once without following a link, and of the size the event
named while it is read. Anything else is refused with a clear error, and the texture call goes
on without the early material: the scene unchanged until the result is applied as usual."""

from __future__ import annotations

import numpy as np
import pytest
from blend_jobs import drain_until
from blender_helpers import mesh_object
from early_material import start_modal, texture_probe, texture_state, tick
from fault_points import resume, wait_paused
from modal_events import TIMER

SIDE = 8


def raw_file(path, fill: int = 200):
    """A raw ``rgba8`` file of ``SIDE`` x ``SIDE`` pixels, every byte ``fill``."""
    path.write_bytes(bytes([fill]) * (SIDE * SIDE * 4))
    return path


def test_the_checked_file_is_read_exactly(addon, tmp_path):
    rows = np.arange(SIDE * SIDE * 4, dtype=np.uint8).reshape(SIDE, SIDE, 4)
    path = tmp_path / "base_color.rgba"
    path.write_bytes(rows.tobytes())
    pixels = addon.apply.raw_pixels.read_pixels(path, SIDE, SIDE)
    assert np.array_equal(np.round(pixels * 255).reshape(SIDE, SIDE, 4), rows[::-1])  # bottom row first


def test_a_link_is_refused_even_to_a_file_of_the_right_size(addon, tmp_path):
    private = raw_file(tmp_path / "private.bin", fill=7)  # the artist's own file, outside the job
    link = tmp_path / "base_color.rgba"
    link.symlink_to(private)
    with pytest.raises(addon.client.session.ApplyError, match="is a link"):
        addon.apply.raw_pixels.read_pixels(link, SIDE, SIDE)


@pytest.mark.parametrize("extra", [-1, 1])
def test_a_file_of_another_size_is_refused(addon, tmp_path, extra):
    path = tmp_path / "base_color.rgba"
    path.write_bytes(b"\x80" * (SIDE * SIDE * 4 + extra))
    with pytest.raises(addon.client.session.ApplyError, match=r"not 8x8x4.*run Doctor"):
        addon.apply.raw_pixels.read_pixels(path, SIDE, SIDE)


def swap_for_link(raw, outside):
    private = outside / "private.bin"  # the artist's own file, of the very size the event named
    private.write_bytes(b"\x07" * raw.stat().st_size)
    raw.unlink()
    raw.symlink_to(private)


def swap_for_longer(raw, _outside):
    raw.write_bytes(raw.read_bytes() + b"\0")


@pytest.mark.parametrize("swap", [swap_for_link, swap_for_longer], ids=["link", "longer"])
def test_a_file_changed_after_its_check_shows_nothing_and_the_result_lands(
        bpy_module, addon, clean_scene, paused_backend, tmp_path, swap):
    bpy = bpy_module
    cube = mesh_object(bpy)
    before = texture_state(bpy)
    probe = texture_probe(bpy, addon)
    start_modal(probe, bpy.context)
    wait_paused(paused_backend)
    drain_until(addon.client.session, lambda: probe._job.early is not None, what="the checked image event")
    swap(probe._job.early.pixels, tmp_path)  # after the check on receipt, before the tick shows it
    assert probe.modal(bpy.context, TIMER) == {"PASS_THROUGH"}  # the tick ends cleanly
    assert probe._early is None and texture_state(bpy) == before
    resume(paused_backend)
    assert tick(probe, bpy.context) == {"FINISHED"}, probe.reports
    assert cube.active_material is not None and cube.active_material.name == probe.prompt
