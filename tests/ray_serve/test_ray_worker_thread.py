"""A worker replica runs every job on one thread, job after job and after a cancelled job: CUDA
graphs recorded by torch.compile belong to the thread that recorded them, so a new thread per job
would record them again at every job. A call cancelled or closed stops its job; the replica stays
busy, the job's folder kept, until the job has ended, even when the call is cancelled again meanwhile."""

import asyncio
import threading
from pathlib import Path

from backend.ray_serve import worker
from core import protocol
from core.errors import Cancelled

WORKER = worker.Worker.func_or_class  # the class Serve deploys
HARMONY = {"type": "palette", "source": "harmony", "harmony": "triadic", "base_color": "#336699", "count": 3}
WAIT_S = 30  # bounds a wait that only a broken replica would reach


class Jobs:
    """Stands in for ``run_job``: the real job, with the thread it runs on written down, except for
    jobs whose id starts with ``stopped``; those report a step, then wait for their cancel event (and
    for their event in ``release``, if they have one) and end as a cancelled job does, noting on the
    event loop (before they return) that they ended and whether their job folder was still there."""

    def __init__(self, real_run_job, loop: asyncio.AbstractEventLoop) -> None:
        self.real_run_job = real_run_job
        self.loop = loop
        self.threads = []
        self.cancelled = {}  # job id -> whether its cancel event was set
        self.folder_kept = {}  # job id -> whether its job folder existed when it ended
        self.order = []  # "<id> ended" from the job, "<id> call over" from the caller, as they happened
        self.release = {}  # job id -> threading.Event: its call has taken a second cancel

    def __call__(self, request, cache, emit, cancel):
        self.threads.append(threading.current_thread())
        if not request.id.startswith("stopped"):
            return self.real_run_job(request, cache, emit, cancel)
        emit(protocol.ProgressEvent(id=request.id, step=1, total=2, stage="started"))
        self.cancelled[request.id] = cancel.wait(WAIT_S)
        if request.id in self.release:
            self.release[request.id].wait(WAIT_S)
        self.folder_kept[request.id] = Path(request.output_dir).parent.is_dir()
        noted = threading.Event()
        self.loop.call_soon_threadsafe(lambda: (self.order.append(f"{request.id} ended"), noted.set()))
        noted.wait(WAIT_S)
        cancelled = Cancelled()
        return cancelled.code, cancelled.message, cancelled.hint


async def start(replica, jobs: Jobs, job_id: str) -> asyncio.Task:
    """Consume a ``stopped`` job's call in a task; return once the job is running."""
    started = asyncio.Event()

    async def consume():
        try:
            async for _ in replica.run({**HARMONY, "id": job_id}, {}):
                started.set()
        finally:
            jobs.order.append(f"{job_id} call over")

    task = asyncio.create_task(consume())
    await started.wait()
    return task


async def finish(task: asyncio.Task) -> bool:
    """Await a cancelled consuming task; whether it ended cancelled."""
    try:
        await task
    except asyncio.CancelledError:
        return True
    return False


async def run_normal(replica, job_id: str) -> list[str]:
    return [type(protocol.decode_event(item["line"])).__name__
            async for item in replica.run({**HARMONY, "id": job_id}, {})]


def run_with(monkeypatch, tmp_path, scenario):
    """Run ``scenario(replica, jobs)`` on a fresh replica whose ``run_job`` is ``Jobs``."""
    real_run_job = worker.run_job
    replica = WORKER(str(tmp_path))

    async def main():
        jobs = Jobs(real_run_job, asyncio.get_running_loop())
        monkeypatch.setattr(worker, "run_job", jobs)
        return jobs, await scenario(replica, jobs)

    return asyncio.run(main())


def test_jobs_run_one_after_another_on_the_same_thread(tmp_path, monkeypatch):
    async def scenario(replica, jobs):
        answers = [await run_normal(replica, f"p{number}") for number in range(2)]
        # Serve cancels the call when its caller goes away: the job ends, the next takes its thread.
        task = await start(replica, jobs, "stopped")
        task.cancel()
        ended_cancelled = await finish(task)
        answers.append(await run_normal(replica, "p2"))
        return ended_cancelled, answers

    jobs, (ended_cancelled, answers) = run_with(monkeypatch, tmp_path, scenario)
    assert ended_cancelled
    assert all(names[-1] == "ResultEvent" for names in answers), answers
    assert jobs.cancelled == {"stopped": True}
    assert jobs.order == ["stopped ended", "stopped call over"], "the replica left before its job ended"
    assert len(jobs.threads) == 4 and all(thread is jobs.threads[0] for thread in jobs.threads), jobs.threads
    assert jobs.threads[0] is not threading.current_thread()  # never on the replica's event loop


def test_a_call_cancelled_again_while_its_job_stops_waits_for_it(tmp_path, monkeypatch):
    async def scenario(replica, jobs):
        jobs.release = {"stopped-twice": threading.Event(), "stopped-closed": threading.Event()}
        task = await start(replica, jobs, "stopped-twice")
        task.cancel()
        await asyncio.sleep(0)  # the call takes the first cancel and waits for the job to stop
        task.cancel()
        await asyncio.sleep(0)  # the call takes the second cancel while its job still runs
        jobs.release["stopped-twice"].set()
        twice_cancelled = await finish(task)
        # Serve may close the call rather than cancel it, and cancel the closing.
        stream = replica.run({**HARMONY, "id": "stopped-closed"}, {})
        await anext(stream)
        closing = asyncio.create_task(stream.aclose())
        await asyncio.sleep(0)  # the call is closed and waits for the job to stop
        closing.cancel()
        await asyncio.sleep(0)  # the closing takes the cancel while the job still runs
        jobs.release["stopped-closed"].set()
        closing_cancelled = await finish(closing)
        jobs.order.append("stopped-closed call over")
        return twice_cancelled, closing_cancelled, await run_normal(replica, "after")

    jobs, (twice_cancelled, closing_cancelled, answer) = run_with(monkeypatch, tmp_path, scenario)
    assert twice_cancelled and closing_cancelled, "a cancellation was lost while the job stopped"
    assert jobs.cancelled == {"stopped-twice": True, "stopped-closed": True}
    assert jobs.folder_kept == {"stopped-twice": True, "stopped-closed": True}
    assert jobs.order == ["stopped-twice ended", "stopped-twice call over",
                          "stopped-closed ended", "stopped-closed call over"], jobs.order
    assert answer[-1] == "ResultEvent", answer
    assert not any(tmp_path.rglob("job-*")), "a job folder was left behind"
