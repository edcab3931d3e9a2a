"""Blender's texture call on the remote backend while the Ray Serve worker replica running it is
killed (SIGKILL, as the machine's OOM killer does): the call ends with the server's clear
``backend_exited`` error, the scene is unchanged, and the next texture is served by a new replica.
``ray_backend`` is shared by the session: the test waits until both replicas are back."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from blender_helpers import mesh_object

SLOW = dict(prompt="cracked basalt", seed=5, width=256, height=256, steps=150, maps=set())
REPLICAS_BACK_S = 180


def _kill_replicas_at_first_step(session, replicas: list[int]) -> threading.Thread:
    """SIGKILL every worker replica (surely the job's) once Blender has heard of a denoising step."""
    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(job.step >= 1 for job in session.active_jobs()):
                for pid in replicas:
                    os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _wait_for_replicas(ray_backend, count: int) -> None:
    deadline = time.monotonic() + REPLICAS_BACK_S
    while len(ray_backend.worker_replica_pids()) < count:
        assert time.monotonic() < deadline, f"the replicas did not come back; log:\n{ray_backend.log()}"
        time.sleep(0.5)


def test_a_replica_killed_mid_texture_ends_it_clearly_and_the_next_one_works(
        bpy_module, addon, clean_scene, backend_env, ray_backend, remote):
    bpy = bpy_module
    remote(ray_backend.url, ray_backend.token)
    replicas = ray_backend.worker_replica_pids()
    assert len(replicas) == 2, f"worker replicas: {replicas}; log:\n{ray_backend.log()}"
    cube = mesh_object(bpy)
    killer = _kill_replicas_at_first_step(addon.client.session, replicas)
    with pytest.raises(RuntimeError) as raised:
        bpy.ops.atelier.generate_texture(**SLOW)
    killer.join(5)
    error = str(raised.value)
    assert "the replica running the job stopped before the job ended" in error, error
    assert "the server starts a new replica; run the job again" in error
    assert cube.active_material is None and not bpy.data.materials and not bpy.data.images
    assert not addon.client.session.active_jobs()

    assert bpy.ops.atelier.generate_texture(prompt="after the replica", seed=6, width=64, height=64, steps=2,
                                            maps=set()) == {"FINISHED"}
    assert cube.active_material is not None
    _wait_for_replicas(ray_backend, len(replicas))
    assert not set(ray_backend.worker_replica_pids()) & set(replicas)
