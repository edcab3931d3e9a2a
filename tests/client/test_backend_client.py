"""The backend client against the real backend process (``python -m backend serve``)."""

import gc
import os
import signal
import sys
import threading
import time
import warnings

import pytest


def _config(addon, cwd=None, python=sys.executable):
    return addon.client.BackendConfig(python=python, cwd=str(cwd or addon.client.session.EXTENSION_DIR),
                                      env=(("HF_HUB_OFFLINE", "1"),))


def _events_until(client, predicate, timeout=60.0):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.extend(client.poll(timeout=0.2))
        if any(predicate(e) for e in seen):
            return seen
    raise AssertionError(f"no matching event within {timeout} s; saw {seen}")


@pytest.fixture
def client(addon):
    client = addon.client.BackendClient(_config(addon))
    yield client
    client.stop()


def test_ping_is_answered_and_hello_names_the_protocol(addon, client):
    protocol = addon.core.protocol
    client.submit(protocol.PingRequest(id="p1"))
    events = _events_until(client, lambda e: isinstance(e, protocol.PongEvent))
    assert [e.id for e in events if isinstance(e, protocol.PongEvent)] == ["p1"]
    assert client.hello is not None and client.hello.protocol == protocol.PROTOCOL_VERSION
    assert client.hello.pid == client._transport.pid
    assert not client._in_flight  # the pong ended the ping


def test_poll_never_blocks_without_timeout(addon, client):
    client.ensure_started()
    _events_until(client, lambda e: isinstance(e, addon.core.protocol.HelloEvent))
    # Nothing more comes until a request is sent, so a poll that waited would never return.
    poller = threading.Thread(target=client.poll, daemon=True)
    poller.start()
    poller.join(timeout=10)
    assert not poller.is_alive()


def test_killed_backend_is_reported_at_once_and_replaced(addon, client, tiny_sd_model, tmp_path):
    protocol = addon.core.protocol
    request = protocol.TextureRequest(id="t1", prompt="stone", model=str(tiny_sd_model), width=64,
                                      height=64, steps=40, device="cpu", output_dir=str(tmp_path))
    client.submit(request)
    _events_until(client, lambda e: isinstance(e, protocol.AcceptedEvent))
    first_pid = client._transport.pid
    os.kill(first_pid, signal.SIGKILL)
    events = _events_until(client, lambda e: isinstance(e, protocol.ErrorEvent), timeout=10)
    error = [e for e in events if isinstance(e, protocol.ErrorEvent)][0]
    assert error.id == "t1" and error.code == "backend_exited"
    assert "status -9" in error.message and error.hint
    assert not client.running()
    client.submit(protocol.PingRequest(id="p2"))  # the next request starts a fresh backend
    _events_until(client, lambda e: isinstance(e, protocol.PongEvent))
    assert client._transport.pid != first_pid


def test_backend_that_cannot_start_names_the_cause(addon, tmp_path):
    """A real interpreter in a folder without the backend package exits at once: before the
    ping is written (the send is refused) or after (an error event). Either way says why."""
    protocol = addon.core.protocol
    client = addon.client.BackendClient(_config(addon, cwd=tmp_path))
    try:
        client.submit(protocol.PingRequest(id="p"))
        error = _events_until(client, lambda e: isinstance(e, protocol.ErrorEvent), timeout=20)[-1]
        assert error.code == "backend_exited"
        message = error.message
    except addon.client.TransportClosed as refused:
        message = str(refused)
    finally:
        client.stop()
    assert "exited (status 1)" in message and "No module named backend" in message


def test_missing_interpreter_is_refused_with_the_fix(addon, tmp_path):
    missing = str(tmp_path / "no-python")
    client = addon.client.BackendClient(_config(addon, python=missing))
    with pytest.raises(addon.client.session.JobRefused, match="no-python.*ATELIER_PYTHON"):
        addon.client.session.submit(client, addon.core.protocol.PingRequest(id="p"))


def test_stop_ends_the_process(addon, client):
    client.ensure_started()
    process = client._transport._process
    client.stop()
    assert process.poll() is not None
    assert not client.running()


def test_idle_backend_unloads_its_models_once(addon):
    jobs, protocol = addon.client.session, addon.core.protocol
    client = jobs.client_for(_config(addon))
    try:
        client.submit(protocol.PingRequest(id=jobs.new_request_id()))
        _events_until(client, lambda e: isinstance(e, protocol.PongEvent))
        assert not jobs.unload_if_idle(3600)  # not idle long enough
        assert not jobs.unload_if_idle(0)  # 0 = keep models loaded
        client.last_activity -= 7200
        assert jobs.unload_if_idle(3600)
        assert not jobs.unload_if_idle(3600)  # nothing ran since: no second unload
    finally:
        jobs.shutdown()


def test_backend_of_another_protocol_version_is_stopped(addon, tmp_path):
    """A stand-in backend (a few lines of Python) that greets with a future protocol version."""
    protocol = addon.core.protocol
    package = tmp_path / "backend"
    package.mkdir()
    (package / "__main__.py").write_text(
        "import json, sys\n"
        "print(json.dumps({'type': 'hello', 'protocol': 999}), flush=True)\n"
        "sys.stdin.read()\n")
    client = addon.client.BackendClient(_config(addon, cwd=tmp_path))
    try:
        client.submit(protocol.PingRequest(id="p"))
        error = _events_until(client, lambda e: isinstance(e, protocol.ErrorEvent), timeout=20)[-1]
        assert not client.running()
    finally:
        client.stop()
    assert error.id == "p" and "protocol 999" in error.message and "reinstall" in error.hint


def test_stopped_backends_close_their_pipes(addon):
    """Blender runs for days: a backend started and stopped closes its pipes itself rather than
    leaving them to the garbage collector (which warns of each unclosed file)."""
    protocol = addon.core.protocol
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for round_ in range(3):
            client = addon.client.BackendClient(_config(addon))
            client.submit(protocol.PingRequest(id=f"p{round_}"))
            _events_until(client, lambda e: isinstance(e, protocol.PongEvent))
            client.stop()
            time.sleep(0.5)  # the readers reach end of file
            del client
            gc.collect()
    assert [str(w.message) for w in caught if "unclosed file" in str(w.message)] == []
