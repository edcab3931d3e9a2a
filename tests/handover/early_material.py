"""What the early-material tests share: ``atelier.generate_texture`` on the UI's path with
Blender's own backend stopped right after each early-pixels job's ``image`` event, before its PNG
is written (the ``paused_backend`` fixture, conftest.py), so the test acts while the early
material shows and the result has not come.

Timers never fire under the bpy module, so the operator is a probe
(``blend_jobs.operator_probe``; conftest.py puts tests/faults on the path) started as
``invoke`` starts it and ticked by hand (``blend_jobs.tick``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from blend_jobs import file_state, operator_probe, tick
from blender_helpers import image_pixels
from fault_points import wait_paused

# A tiny texture with one denoising step: the tests are about Blender's side.
TEXTURE = dict(prompt="weathered red bricks", width=64, height=64, steps=1, seed=11, maps=set())


def texture_probe(bpy, addon, **properties):
    """A stand-in for a running ``atelier.generate_texture`` with ``TEXTURE`` and ``properties``."""
    operator = addon.operators.texture.ATELIER_OT_generate_texture
    return operator_probe(bpy, operator, **{**TEXTURE, **properties})


def start_modal(probe, context) -> None:
    """Start ``probe`` as ``invoke`` does with a window (the UI's path)."""
    assert probe._start(context, modal=True) is not None, probe.reports


def show_early(probe, context, pause_file: Path) -> int:
    """Start ``probe`` on the UI's path and tick until its early material shows, the backend
    standing after the image event; returns the backend's pid."""
    start_modal(probe, context)
    pid = wait_paused(pause_file)
    assert tick(probe, context, until=lambda: probe._early is not None) == {"PASS_THROUGH"}, probe.reports
    assert not probe._job.done
    return pid


def wait_queued(addon, job, event_type: str, limit: float = 120.0) -> None:
    """Wait until ``job``'s ``event_type`` event has come from the backend and waits, not yet
    drained, in the client's queue: the next tick drains it together with everything before it."""
    protocol, client = addon.core.protocol, addon.client.session.current_client()
    lines = client._transport.lines
    deadline = time.monotonic() + limit
    while True:
        with lines.mutex:  # the reader thread appends meanwhile
            queued = [line for line in lines.queue if line]
        events = [protocol.decode_event(line) for line in queued if line.strip()]
        if any(event.type == event_type and getattr(event, "id", "") == job.id for event in events):
            return
        assert time.monotonic() < deadline, f"waited {limit:.0f} s for the {event_type} event"
        time.sleep(0.01)


def shown_image(material):
    """The Image of ``material``'s image texture node."""
    [image] = [node.image for node in material.node_tree.nodes if node.type == "TEX_IMAGE"]
    return image


def texture_state(bpy) -> dict:
    """What a texture call leaves, as one comparable value: ``file_state`` (datablock names,
    slots, history), each material's image nodes with their Images, each Image's storage and
    colour space, and which datablocks carry a provenance record."""
    return {
        **file_state(bpy),
        "material_images": {m.name: sorted(n.image.name for n in m.node_tree.nodes
                                           if n.type == "TEX_IMAGE" and n.image is not None)
                            for m in bpy.data.materials if m.node_tree is not None},
        "image_storage": {i.name: (i.source, i.packed_file is not None, i.colorspace_settings.name)
                          for i in bpy.data.images if i.name != "Render Result"},
        "recorded": sorted(block.name for block in (*bpy.data.materials, *bpy.data.images)
                           if "atelier_provenance" in block),
        "history_images": [(item.material_name, item.image_name, item.targets)
                           for item in bpy.context.scene.atelier.history],
    }


def pixels(image) -> np.ndarray:
    return image_pixels(image).copy()
