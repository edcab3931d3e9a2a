"""A preview superseded after its last step (while its image decodes, or once it is made) still
ends with exactly one ``cancelled`` and leaves no file; a result of any other job is delivered.

The server runs in this process so that a torch forward hook can send the newer preview at a
known point: while the preview's VAE decodes, after every step check. No sleeps."""

from __future__ import annotations

import json
import os
import queue
import threading
from pathlib import Path

import pytest

from backend.server import Server
from core import protocol

FINAL = ("result", "error")


class EventLines:
    """The server's output stream: each line it writes becomes a decoded event on a queue."""

    def __init__(self) -> None:
        self.events: queue.Queue = queue.Queue()

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self.events.put(json.loads(line))
        return len(text)

    def flush(self) -> None:
        pass

    def next(self) -> dict:
        return self.events.get(timeout=300)  # a safety net against a hang, never a measured time


@pytest.fixture
def served():
    """``(server, output, send)``: a Server reading the lines ``send`` writes into a pipe."""
    read_end, write_end = os.pipe()
    output = EventLines()
    server = Server(output)
    with os.fdopen(read_end, "rb") as lines, os.fdopen(write_end, "wb", buffering=0) as requests:
        thread = threading.Thread(target=server.serve, args=(lines,), daemon=True)
        thread.start()
        assert output.next()["type"] == "hello"
        yield server, output, lambda message: requests.write((json.dumps(message) + "\n").encode())
        requests.close()  # EOF: the server stops
        thread.join(60)


def ended(output: EventLines, ids: list[str]) -> dict[str, list[dict]]:
    """Every event of ``ids`` until each has ended, by id."""
    by_id: dict[str, list[dict]] = {job_id: [] for job_id in ids}
    running = set(ids)
    while running:
        event = output.next()
        if event.get("id") in by_id:
            by_id[event["id"]].append(event)
            if event["type"] in FINAL:
                running.discard(event["id"])
    return by_id


@pytest.fixture
def while_decoding():
    """``while_decoding(server, action)``: ``action()`` runs once, the first time a VAE decoder runs
    on ``server``'s worker thread (the hook is process-wide; other servers' decodes do not count)."""
    import torch
    from diffusers.models.autoencoders.vae import Decoder

    handles = []

    def arm(server: Server, action) -> None:
        def hook(module, args, output):
            if isinstance(module, Decoder) and handles and threading.current_thread() is server._worker:
                handles.pop().remove()
                action()

        handles.append(torch.nn.modules.module.register_module_forward_hook(hook))

    yield arm
    for handle in handles:
        handle.remove()


def test_a_preview_superseded_while_it_decodes_ends_cancelled_once(served, while_decoding, texture_request,
                                                                   tmp_path):
    server, output, send = served
    old, new = texture_request(preview=True), texture_request(preview=True, prompt="mossy stone")
    while_decoding(server, lambda: send(new))  # every step check of the old preview has passed by then
    send(old)

    events = ended(output, [old["id"], new["id"]])
    assert [e["type"] for e in events[old["id"]]].count("error") == 1
    assert "result" not in [e["type"] for e in events[old["id"]]]
    assert events[old["id"]][-1]["code"] == "cancelled"
    assert events[new["id"]][-1]["type"] == "result", events[new["id"]][-1]
    # The old preview wrote nothing it leaves behind; the newer one's pixels are there.
    written = sorted(path.name for path in Path(old["output_dir"]).rglob("*") if path.is_file())
    assert written == ["preview.rgba"]
    assert Path(events[new["id"]][-1]["files"][0]["path"]).is_file()


def test_a_job_cancelled_while_it_decodes_ends_cancelled(served, while_decoding, texture_request):
    """Not a preview: the client's cancel during the decode stops it before anything is written."""
    server, output, send = served
    job = texture_request()
    while_decoding(server, lambda: send({"type": "cancel", "id": "cancel-decoding", "job": job["id"]}))
    send(job)

    events = ended(output, [job["id"]])[job["id"]]
    assert events[-1]["type"] == "error" and events[-1]["code"] == "cancelled", events[-1]
    assert not [path for path in Path(job["output_dir"]).rglob("*") if path.is_file()]


def result_of(job_id: str, folder: Path) -> protocol.ResultEvent:
    """A finished job's result naming one file it wrote in its own folder."""
    folder.mkdir()
    path = folder / "preview.rgba"
    path.write_bytes(b"\0" * 16)
    return protocol.ResultEvent(id=job_id, files=[protocol.ResultFile("preview", str(path), "rgba8")])


@pytest.mark.parametrize("preview, cancelled, ends", [
    (True, True, "cancelled"), (True, False, "result"), (False, True, "result"), (False, False, "result")])
def test_the_final_event_of_a_job_whose_result_is_made(tmp_path, texture_request, preview, cancelled, ends):
    """The last moment: the newer job's cancel came after the job's last check. Only a preview
    turns its result into ``cancelled``; any other job that finished keeps its result."""
    output = EventLines()
    server = Server(output)
    request = protocol.decode_request(json.dumps(texture_request(preview=preview)))
    cancel = threading.Event()
    if cancelled:
        cancel.set()
    server._running = (request, cancel)  # as the worker holds it while the job runs
    result = result_of(request.id, tmp_path / "job")

    server._end(result)
    (event,) = list(output.events.queue)
    assert (event["type"] if event["type"] == "result" else event["code"]) == ends
    assert (tmp_path / "job").exists() is (ends == "result")  # a cancelled preview leaves no file
    assert server._running is None
