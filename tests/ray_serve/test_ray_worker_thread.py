"""A worker replica runs every job on one thread, job after job and after a cancelled job: CUDA
graphs recorded by torch.compile belong to the thread that recorded them, so a new thread per job
would record them again at every job."""

import asyncio
import threading

from backend.ray_serve import worker
from core import protocol

WORKER = worker.Worker.func_or_class  # the class Serve deploys
HARMONY = {"type": "palette", "source": "harmony", "harmony": "triadic", "base_color": "#336699", "count": 3}


def test_jobs_run_one_after_another_on_the_same_thread(tmp_path, monkeypatch):
    threads = []

    def run_job(*args):  # the real job, with the thread it runs on written down
        threads.append(threading.current_thread())
        return real_run_job(*args)

    real_run_job = worker.run_job
    monkeypatch.setattr(worker, "run_job", run_job)
    replica = WORKER(str(tmp_path))

    async def jobs():
        results = []
        for number in range(2):
            request = {**HARMONY, "id": f"p{number}"}
            results.append([protocol.decode_event(item["line"]) async for item in replica.run(request, {})])
        # A job whose caller goes away (Serve cancels the call) ends; the next one takes its thread.
        stream = replica.run({**HARMONY, "id": "cancelled"}, {})
        await anext(stream)
        try:
            await stream.athrow(asyncio.CancelledError())
        except asyncio.CancelledError:
            pass
        return results

    results = asyncio.run(jobs())
    answers = [[type(event).__name__ for event in events] for events in results]
    assert all(names[-1] == "ResultEvent" for names in answers), answers
    assert len(threads) == 3 and len(set(threads)) == 1, threads
    assert threads[0] is not threading.current_thread()  # never on the replica's event loop
