"""A job cancelled while its backend lies dead, before the backend read its request: the job
ends here, and the request is never sent once more to a fresh backend (which would start the
cancelled job after all)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest


@pytest.fixture
def client(addon):
    config = addon.client.BackendConfig(python=sys.executable, cwd=addon.client.session.EXTENSION_DIR,
                                        env=(("HF_HUB_OFFLINE", "1"),))
    client = addon.client.BackendClient(config)
    yield client
    client.stop()


def test_a_job_cancelled_before_the_dead_backend_read_it_is_never_sent_again(addon, client):
    session, protocol = addon.client.session, addon.core.protocol
    client.ensure_started()
    first = client._transport.pid
    os.kill(first, signal.SIGSTOP)  # it reads nothing more: the request stays in the pipe
    job = session.submit(client, protocol.PingRequest(id="unread"))
    os.kill(first, signal.SIGKILL)
    while client.running():  # nobody has polled yet: the death is not noticed
        time.sleep(0.01)
    session.cancel(client, job)
    assert job.cancelled and job not in session.active_jobs()
    assert client.poll(timeout=2.0) == []  # no ``backend_exited`` for a job ended here
    assert not client.running() and not client._in_flight  # no fresh backend was given it
