"""A server of its own (the shared one must keep running): stopped during startup it leaves no
Ray process; running, it scales its workers between --replicas and --max-replicas; on SIGTERM
it exits 0 and leaves no process of its session and no temporary folder."""

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backend_process import ROOT, backend_environment
from ray_server import call, free_port, session_processes, start_ray_serve, submit

TOKEN = "a-lifecycle-test-token"
SCALE_UP_WITHIN_S = 60


def temp_roots(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"atelier-ray-serve-{pid}-*"))


def test_a_sigterm_while_ray_starts_leaves_no_ray_process():
    proc = subprocess.Popen([sys.executable, "-m", "backend", "ray-serve", "--port", str(free_port())],
                            cwd=ROOT, env=backend_environment({"ATELIER_BACKEND_TOKEN": TOKEN}),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(600):  # until Ray has started some of its processes, not all
            if len(session_processes(proc.pid)) >= 3:
                break
            time.sleep(0.05)
        assert len(session_processes(proc.pid)) >= 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0
        assert b"ready" not in proc.stdout.read()
        assert session_processes(proc.pid) == [] and temp_roots(proc.pid) == []
    finally:
        proc.kill()
        proc.wait()


def test_workers_scale_up_when_busy_and_sigterm_stops_everything(tiny_sd, texture_request, tmp_path):
    server = start_ray_serve(tmp_path, TOKEN, replicas=1, max_replicas=2, model_dirs=(tiny_sd.parent,),
                             env={"ATELIER_TEXTURE_MODEL": str(tiny_sd), "ATELIER_DEVICE": "cpu"})
    try:
        (root,) = temp_roots(server.pid)
        assert len(server.worker_replica_pids()) == 1
        jobs = [submit(server, texture_request(width=1024, height=1024, steps=150)).json()["job"]
                for _ in range(2)]  # one runs, one waits: more than one replica can take
        for _ in range(SCALE_UP_WITHIN_S * 5):
            if len(server.worker_replica_pids()) == 2:
                break
            time.sleep(0.2)
        assert len(server.worker_replica_pids()) == 2, server.log()
        assert list(root.glob("worker-*/job-*"))  # the replicas' job folders are under the server's
        for job in jobs:
            assert call(server, "POST", f"/v1/jobs/{job}/cancel").status_code == 202
    finally:
        status = server.stop()
    assert status == 0 and server.leftovers == [], (status, server.leftovers)
    assert temp_roots(server.pid) == []
