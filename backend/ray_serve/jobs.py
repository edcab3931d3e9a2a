"""The ingress's job registry: unguessable ids tied to the token that made them, each job's
events as they arrive (replayable), its result files in the server's own folder, and forgetting
finished jobs after ``ATELIER_SERVE_JOB_TTL`` seconds."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core import protocol

from ..server import event_line

TTL_ENV = "ATELIER_SERVE_JOB_TTL"
DEFAULT_TTL_S = 3600.0
FINAL_TYPES = ("result", "error")


@dataclass
class Job:
    """One job: who made it, its folder, its event lines so far and how to stop it."""

    key: str
    owner: str  # hash of the token that created it
    request_id: str
    folder: Path
    upload_bytes: int = 0  # held (in this process or on its way to a replica) until a replica starts it
    lines_sent: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # role -> file in ``folder``
    started: bool = False
    finished_at: float | None = None
    cancelled: bool = False
    runner: asyncio.Task | None = None
    response: object = None  # the worker's streaming response, cancelled by ``cancel``
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    async def add(self, event: protocol.Event, now: float) -> None:
        """Record an event (its line, encoded as the stdio server encodes it); the first final one
        ends the job at ``now`` and later ones are dropped."""
        async with self.changed:
            if self.finished:
                return
            self.lines_sent.append(event_line(event))
            if event.type in FINAL_TYPES:
                self.finished_at = now
            self.changed.notify_all()

    async def lines(self):
        """Its events as NDJSON lines, from the first, as they happen, ending after the final one."""
        sent = 0
        while True:
            async with self.changed:
                await self.changed.wait_for(lambda seen=sent: len(self.lines_sent) > seen or self.finished)
                batch = self.lines_sent[sent:]
                done = self.finished
            for line in batch:
                yield (line + "\n").encode("utf-8")
            sent += len(batch)
            if done and sent == len(self.lines_sent):
                return


class Registry:
    """Jobs by id; only the token that made a job can see it. ``clock`` gives the seconds the TTL
    counts (monotonic)."""

    def __init__(self, root: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.root = root
        self.clock = clock
        self._jobs: dict[str, Job] = {}
        raw = os.environ.get(TTL_ENV, "").strip()
        self.ttl_s = float(raw) if raw.replace(".", "", 1).isdigit() else DEFAULT_TTL_S

    def create(self, owner: str, request_id: str, upload_bytes: int = 0) -> Job:
        key = secrets.token_urlsafe(32)
        folder = self.root / key
        folder.mkdir(parents=True)  # the root too, should a temp cleaner have removed it
        job = Job(key=key, owner=owner, request_id=request_id, folder=folder, upload_bytes=upload_bytes)
        self._jobs[key] = job
        return job

    def get(self, key: str, owner: str) -> Job | None:
        """The job, or None when it is unknown or another token's (the same answer for both)."""
        job = self._jobs.get(key)
        return job if job is not None and secrets.compare_digest(job.owner, owner) else None

    def waiting_ahead(self, job: Job) -> int:
        """Jobs accepted before ``job`` that no replica has started yet."""
        return sum(1 for other in self._jobs.values() if other is not job and not other.started
                   and not other.finished)

    def unfinished(self, owner: str | None = None) -> int:
        """Jobs not finished yet: everyone's, or ``owner``'s."""
        return sum(1 for job in self._jobs.values() if not job.finished and owner in (None, job.owner))

    def waiting_upload_bytes(self) -> int:
        """Bytes of uploads no replica has taken yet."""
        return sum(job.upload_bytes for job in self._jobs.values() if not job.started and not job.finished)

    def forget(self, job: Job) -> None:
        """Drop the job and delete its files."""
        self._jobs.pop(job.key, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def expire(self) -> None:
        """Forget finished jobs older than the TTL."""
        now = self.clock()
        for job in [j for j in self._jobs.values() if j.finished and now - j.finished_at >= self.ttl_s]:
            self.forget(job)

    async def expire_periodically(self, interval_s: float) -> None:
        """``expire`` every ``interval_s`` seconds, for as long as the server runs."""
        while True:
            await asyncio.sleep(interval_s)
            self.expire()
