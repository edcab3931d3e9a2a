"""The worker deployment: each replica keeps its models warm (``ModelCache``) and runs one job
at a time through ``backend.server.run_job``, exactly as ``python -m backend serve`` does.

A job's input files arrive as bytes and are written into the replica's own temporary job folder
(under the server's temporary folder), which is also the job's ``output_dir`` when it has one;
the result's files go back as bytes and the folder is deleted. Events stream back as they happen.
Every file goes through ``output_files.write_file``: a full disk on the replica's node, for an
upload or a result, ends the job with ``write_failed`` whose hint speaks of the server's disk.
Cancelling or closing the call (``POST .../cancel``) sets the job's cancel event; the replica
stays busy until the job has stopped, so it never runs two. Every job of a replica runs on the
same thread: CUDA graphs that torch.compile records belong to the thread that recorded them, and
a thread per job would record them again at every job.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ray import serve

from core import protocol
from core.errors import TaskError

from ..model_cache import ModelCache
from ..output_files import write_file
from ..server import classify_unexpected, event_line, run_job

log = logging.getLogger("atelier.ray_serve")
# The user of a remote backend cannot free space on the server, only its administrator can.
SERVER_WRITE_HINT = ("the server's disk is full or its temporary folder not writable: ask its "
                     "administrator to free space there, then run the job again")


@serve.deployment(name="AtelierWorker", max_ongoing_requests=1, ray_actor_options={"num_cpus": 0})
class Worker:
    """One model host; Serve scales the number of replicas between the bounds given."""

    def __init__(self, temp_root: str) -> None:
        self._cache = ModelCache()
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="atelier-job")
        self._temp_root = Path(temp_root) / f"worker-{os.getpid()}"

    async def run(self, request: dict, uploads: dict[str, bytes]):
        """Run one job; yields ``{"line": <event line>}`` items, the result's with ``"files"``
        holding ``{role, format, data}``. ``request`` was checked by the ingress."""
        self._temp_root.mkdir(parents=True, exist_ok=True)  # on this node; a temp cleaner may have struck
        folder = Path(tempfile.mkdtemp(prefix="job-", dir=self._temp_root))
        try:
            names = {str(folder): "the job folder"}
            for name, data in uploads.items():
                path = folder / f"input-{name}"
                names[str(path)] = name  # error messages name the field, not the server's path
                try:
                    write_file(path, data)
                except TaskError as exc:
                    yield _item(protocol.ErrorEvent(id=request["id"], code=exc.code, message=exc.message,
                                                    hint=exc.hint), names)
                    return
                request[name] = str(path)
            uploads.clear()
            kind = protocol.REQUEST_TYPES[request["type"]]
            if "output_dir" in {f.name for f in dataclasses.fields(kind)}:
                request["output_dir"] = str(folder / "out")
            # Closing this call closes the events at once, so their ``finally`` stops the job and
            # waits for it before the folder it writes into is deleted below.
            events = self._events(protocol.decode_request(json.dumps(request)), names)
            async with contextlib.aclosing(events):
                async for item in events:
                    yield item
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    async def _events(self, request: protocol.Request, names: dict[str, str]):
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()

        def emit(event: protocol.Event | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

        def work() -> None:
            try:
                code, message, hint = run_job(request, self._cache, emit, cancel)
            except Exception as exc:  # run_job reports failures itself; this is the last guard
                code, message, hint = classify_unexpected(exc)
            if code is not None:
                emit(protocol.ErrorEvent(id=request.id, code=code, message=message, hint=hint))
            emit(None)

        running = loop.run_in_executor(self._runner, work)
        ended = False
        try:
            while (event := await queue.get()) is not None:
                yield _item(event, names)
            ended = True
        finally:
            # The caller went away, cancelled or closed: the job stops at its next step. The replica
            # stays busy until it has, so it never runs two and the job's folder outlives it.
            if not ended:
                cancel.set()
            await _wait_through_cancellations(running)


async def _wait_through_cancellations(running: asyncio.Future) -> None:
    """Wait for ``running`` to end even when cancelled meanwhile (a second cancel of the call),
    then pass the cancellation on: stopping early would leave the job running orphaned, its folder
    deleted under it, and the next request queued behind it."""
    cancelled = False
    while not running.done():
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


def _item(event: protocol.Event, names: dict[str, str]) -> dict:
    """An event for the ingress, encoded as the stdio server encodes it; an error's text names
    input files by their field; a result carries its files' bytes."""
    if isinstance(event, protocol.ErrorEvent):
        if event.code == "write_failed":
            event.hint = SERVER_WRITE_HINT
        for path in sorted(names, key=len, reverse=True):  # a file before the folder holding it
            event.message = event.message.replace(path, names[path])
            event.hint = event.hint.replace(path, names[path])
    if not isinstance(event, protocol.ResultEvent):
        return {"line": event_line(event)}
    files = [{"role": f.role, "format": f.format, "data": Path(f.path).read_bytes()} for f in event.files]
    return {"line": event_line(event), "files": files}
