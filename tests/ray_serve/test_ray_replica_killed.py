"""A worker replica that dies during a job: the job's stream ends with a clear ``backend_exited``
error, Serve starts a new replica, and the next job is served."""

import os
import signal

from ray_server import call, run_job, stream_events, submit


def test_a_killed_replica_ends_its_job_clearly_and_the_next_job_runs(ray_backend, texture_request):
    answer = submit(ray_backend, texture_request(width=1024, height=1024, steps=150))
    assert answer.status_code == 202, answer.text
    job = answer.json()["job"]
    replicas = ray_backend.worker_replica_pids()
    assert replicas, f"no worker replica found; log:\n{ray_backend.log()}"
    seen = []
    for event in stream_events(ray_backend, job):
        seen.append(event)
        if event["type"] == "progress" and event["step"] == 1:
            for pid in replicas:  # every worker replica, so surely the one running the job
                os.kill(pid, signal.SIGKILL)
    end = seen[-1]
    assert end["type"] == "error" and end["code"] == "backend_exited", end
    assert end["message"] == "the replica running the job stopped before the job ended" and end["hint"], end
    assert end["id"] == answer.json()["id"]
    assert call(ray_backend, "GET", f"/v1/jobs/{job}/files/base_color").status_code == 404

    _, events = run_job(ray_backend, texture_request())
    assert events[-1]["type"] == "result", events
    assert not set(ray_backend.worker_replica_pids()) & set(replicas)  # served by a new replica
