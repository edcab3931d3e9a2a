"""What a killed backend leaves the client to say and do: an error that reads well (how the
process ended, never a progress bar or a routine log line as its reason), and a request the
dead backend never heard sent once more to a fresh one, so the next job works; but never a
request whose job was cancelled meanwhile (the fresh backend would start it after all)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

BAR = "Loading pipeline components...: 100%|██████████| 6/6 [00:00<00:00, 50.03it/s]"
LOG = "2026-12-02 01:40:30,538 atelier-backend INFO job f62f0a581939 (texture) started"
WARNING = "[transformers] `CLIPImageProcessor` requires torchvision (not installed)"


@pytest.mark.parametrize(("status", "tail", "said"), [
    (-9, f"{WARNING}\n{LOG}\n{BAR}", "the backend process exited (status -9, killed by SIGKILL)"),
    (-9, "", "the backend process exited (status -9, killed by SIGKILL)"),
    (-11, "Fatal Python error: Segmentation fault\n\n",
     "the backend process exited (status -11, killed by SIGSEGV): Fatal Python error: Segmentation fault"),
    (1, f"Traceback (most recent call last):\nModuleNotFoundError: No module named 'backend'\n{BAR}\n{LOG}",
     "the backend process exited (status 1): ModuleNotFoundError: No module named 'backend'"),
    (2, "usage: backend serve\nFetching 3 files: 3it [00:01,  2.50it/s]",
     "the backend process exited (status 2): usage: backend serve"),
    (None, LOG, "the backend process exited (status unknown)"),
])
def test_the_exit_message_names_how_it_ended_and_a_real_reason(addon, status, tail, said):
    assert addon.client.backend_client.exit_message(status, tail) == said


def events_until(client, predicate, timeout=60.0) -> list:
    seen = []
    deadline = time.monotonic() + timeout
    while not any(predicate(event) for event in seen):
        assert time.monotonic() < deadline, f"no such event within {timeout} s; saw {seen}"
        seen.extend(client.poll(timeout=0.1))
    return seen


@pytest.fixture
def client(addon):
    config = addon.client.BackendConfig(python=sys.executable, cwd=addon.client.session.EXTENSION_DIR,
                                        env=(("HF_HUB_OFFLINE", "1"),))
    client = addon.client.BackendClient(config)
    yield client
    client.stop()


def started(client, protocol) -> int:
    """The pid of the client's backend once it has said hello."""
    client.ensure_started()
    events_until(client, lambda event: isinstance(event, protocol.HelloEvent))
    return client._transport.pid


def test_a_request_the_killed_backend_never_read_goes_to_a_fresh_one(addon, client):
    protocol = addon.core.protocol
    first = started(client, protocol)
    os.kill(first, signal.SIGSTOP)  # it reads nothing more: the request stays in the pipe
    client.submit(protocol.PingRequest(id="unheard"))
    os.kill(first, signal.SIGKILL)
    seen = events_until(client, lambda event: isinstance(event, protocol.PongEvent))
    assert not [event for event in seen if isinstance(event, protocol.ErrorEvent)], seen
    assert client._transport.pid != first and not client._in_flight


def test_it_goes_once_and_a_heard_request_is_never_sent_again(addon, client, tiny_sd):
    protocol = addon.core.protocol
    first = started(client, protocol)
    os.kill(first, signal.SIGSTOP)
    client.submit(protocol.PingRequest(id="unheard"))
    os.kill(first, signal.SIGKILL)
    assert client.poll(timeout=10) == []  # sent again, to a fresh backend starting now
    second = client._transport.pid
    os.kill(second, signal.SIGSTOP)  # before the fresh one could read it
    os.kill(second, signal.SIGKILL)
    (error,) = events_until(client, lambda event: isinstance(event, protocol.ErrorEvent))
    assert (error.id, error.code) == ("unheard", "backend_exited") and "killed by SIGKILL" in error.message
    third = started(client, protocol)
    client.submit(protocol.TextureRequest(id="heard", prompt="stone", model=str(tiny_sd), device="cpu",
                                          width=64, height=64, steps=1))
    events_until(client, lambda event: isinstance(event, protocol.AcceptedEvent))  # heard: it began
    os.kill(third, signal.SIGKILL)
    (error,) = events_until(client, lambda event: isinstance(event, protocol.ErrorEvent), timeout=10)
    assert (error.id, error.code) == ("heard", "backend_exited")
    assert not client._in_flight and not client.running()  # no fresh backend: nothing to send again


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
