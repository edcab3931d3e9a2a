"""The ingress's job registry on its own: ids tied to their token, events replayed to every
reader, finished jobs forgotten after ``ATELIER_SERVE_JOB_TTL`` with their files (by the
registry's own periodic sweep), and the per-token and upload counts the ingress limits."""

import asyncio
import json
import shutil

from backend.ray_serve.auth import token_accepted, token_hash
from backend.ray_serve.jobs import Registry
from core import protocol


def collect(job) -> list[bytes]:
    async def read():
        return [line async for line in job.lines()]

    return asyncio.run(read())


def test_jobs_belong_to_their_token_and_expire_with_their_files(tmp_path, monkeypatch):
    monkeypatch.setenv("ATELIER_SERVE_JOB_TTL", "0")
    registry = Registry(tmp_path)
    owner, other = token_hash("token-a"), token_hash("token-b")
    done, running = registry.create(owner, "r1"), registry.create(owner, "r2")
    assert len(done.key) >= 43 and done.key != running.key  # 32 random bytes, URL-safe
    assert registry.get(done.key, other) is None and registry.get(done.key, owner) is done
    (done.folder / "base_color.png").write_bytes(b"png")
    asyncio.run(done.add(protocol.AcceptedEvent(id="r1"), 0.0))
    asyncio.run(done.add(protocol.ResultEvent(id="r1"), 0.0))
    asyncio.run(done.add(protocol.ErrorEvent(id="r1", code="internal", message="late"), 0.0))  # dropped
    lines = collect(done)
    assert lines == collect(done) and [json.loads(line)["type"] for line in lines] == ["accepted", "result"]
    assert lines[0] == (protocol.encode(protocol.AcceptedEvent(id="r1")) + "\n").encode()
    registry.expire()
    assert registry.get(done.key, owner) is None and not done.folder.exists()
    assert registry.get(running.key, owner) is running  # unfinished jobs stay


def test_finished_jobs_are_forgotten_by_the_periodic_sweep(tmp_path, monkeypatch):
    """Nobody calls ``expire``: the sweep the ingress runs forgets the job once its clock has
    passed the TTL, and not before."""
    monkeypatch.setenv("ATELIER_SERVE_JOB_TTL", "10")
    now = [100.0]
    registry = Registry(tmp_path, clock=lambda: now[0])
    owner = token_hash("token-a")
    job = registry.create(owner, "r1")

    async def scenario() -> tuple[bool, bool]:
        sweep = asyncio.create_task(registry.expire_periodically(0.001))
        await job.add(protocol.ResultEvent(id="r1"), registry.clock())
        now[0] = 109.0
        for _ in range(20):  # many sweeps
            await asyncio.sleep(0.002)
        kept = registry.get(job.key, owner) is job
        now[0] = 110.0
        while registry.get(job.key, owner) is not None:  # the next sweep forgets it
            await asyncio.sleep(0.002)
        sweep.cancel()
        return kept, job.folder.exists()

    kept, folder_left = asyncio.run(scenario())
    assert kept and not folder_left


def test_an_event_that_cannot_be_encoded_becomes_an_internal_error_line(tmp_path):
    """As on the stdio server: a lone surrogate (or a NaN) would break the stream; the job ends
    with an ``internal`` error that says so."""
    registry = Registry(tmp_path)
    job = registry.create(token_hash("token-a"), "r1")
    asyncio.run(job.add(protocol.ErrorEvent(id="r1", code="internal", message="bad \udc80 text"), 0.0))
    (line,) = collect(job)
    event = json.loads(line.decode("utf-8"))
    assert event["code"] == "internal" and "cannot encode" in event["message"] and job.finished


def test_counts_per_token_and_waiting_uploads(tmp_path):
    registry = Registry(tmp_path / "root")
    shutil.rmtree(tmp_path / "root", ignore_errors=True)  # as a temporary-file cleaner might
    a, b = token_hash("token-a"), token_hash("token-b")
    first, second = registry.create(a, "1", upload_bytes=100), registry.create(a, "2", upload_bytes=50)
    registry.create(b, "3", upload_bytes=7)
    assert (registry.unfinished(), registry.unfinished(a), registry.unfinished(b)) == (3, 2, 1)
    assert registry.waiting_upload_bytes() == 157
    first.started = True  # a replica took its upload
    asyncio.run(second.add(protocol.ResultEvent(id="2"), 0.0))
    assert registry.unfinished(a) == 1 and registry.waiting_upload_bytes() == 7


def test_tokens_compare_whole():
    assert token_accepted("abc", ["x", "abc"])
    assert not token_accepted("ab", ["abc"]) and not token_accepted(None, ["abc"])
    assert not token_accepted("abcd", ["abc"])
