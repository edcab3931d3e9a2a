"""``python -m backend ray-serve``: start (or join) Ray, run the application, print the ready
line, and shut down cleanly on SIGINT/SIGTERM.

Ray's own ports (GCS, dashboard, job submission, object transfer) have no authentication: a
local Ray started here listens on loopback only, with the dashboard off. Only Atelier's HTTP port
checks a token, and it too listens where ``--host`` says (loopback by default).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path

from .auth import TokenError, load_tokens

APP_NAME = "atelier"
LOOPBACK = "127.0.0.1"
# The local Ray's shared-memory object store: jobs move images of at most a few MB through it.
OBJECT_STORE_BYTES = 200 * 2**20
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Jobs are long (seconds to minutes): a queue that lasts a few seconds is worth another replica.
UPSCALE_DELAY_S = 3.0
RAY_TOKEN_FILE = Path.home() / ".ray" / "auth_token"  # where Ray keeps a local cluster's token


def add_parser(commands) -> None:
    """The ``ray-serve`` subcommand's arguments."""
    parser = commands.add_parser("ray-serve", help="serve Atelier's tasks over HTTP on Ray Serve "
                                 "(bearer token required)")
    parser.add_argument("--host", default=LOOPBACK, help="address Atelier's HTTP port listens on "
                        "(default 127.0.0.1; put a TLS reverse proxy in front for other machines)")
    parser.add_argument("--port", type=_port, default=8765)
    parser.add_argument("--address", default="", help="an existing Ray cluster to join (default: "
                        "start a local Ray on loopback)")
    parser.add_argument("--replicas", type=_at_least_one, default=1, help="worker replicas kept running")
    parser.add_argument("--max-replicas", type=_at_least_one, help="most worker replicas when busy "
                        "(default: --replicas)")
    parser.add_argument("--gpus-per-replica", type=_gpus, default=1.0,
                        help="GPUs each replica holds when CUDA is available (default 1)")
    parser.add_argument("--token-file", help="file of tokens, one per line, one per "
                        "user (default: ATELIER_BACKEND_TOKEN)")
    parser.add_argument("--model-dir", action="append", default=[], help="a folder whose models "
                        "requests may name by path (repeatable; default ATELIER_SERVE_MODEL_DIRS)")
    parser.add_argument("--allow-downloads", action="store_true", help="let requests with allow_network "
                        "download models from the Hugging Face Hub onto this server (default: models "
                        "come only from its cache and model folders)")


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, got {text}")
    return value


def _gpus(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and 0 < value <= 64):
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 64 (a fraction shares a GPU), "
                                         f"got {text}")
    return value


def port_problem(host: str, port: int) -> str:
    """Why Atelier's HTTP port cannot be opened ("" when it can), found before Ray starts."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server does
            probe.bind((host, port))
    except OSError as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another --port or --host"
    return ""


def main(args: argparse.Namespace) -> int:
    """Run the application until a shutdown signal; returns the exit status."""
    try:
        tokens = load_tokens(args.token_file)
    except TokenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    max_replicas = args.max_replicas or args.replicas
    if max_replicas < args.replicas:
        print(f"error: --max-replicas {max_replicas} is below --replicas {args.replicas}", file=sys.stderr)
        return 1
    problem = port_problem(args.host, args.port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    if not args.address:
        _local_ray_on_loopback()  # before Ray is imported: it reads these variables then
    import ray
    from ray import serve

    stop = threading.Event()
    # Replicas' temporary folders (on this machine) and the ingress's job files, all removed at the end.
    temp_root = tempfile.mkdtemp(prefix=f"atelier-ray-serve-{os.getpid()}-")
    # A signal while Ray starts waits until the handlers below are in place: ray.init installs
    # its own (Python's exits mid-start, the core worker's aborts), which would leave the Ray
    # processes started so far running. Ray's processes inherit the blocked mask (Ray itself
    # blocks SIGINT in them): they are stopped by ray.shutdown, which falls back to SIGKILL.
    signal.pthread_sigmask(signal.SIG_BLOCK, SHUTDOWN_SIGNALS)
    try:
        try:
            _start_ray(ray, args.address)
        finally:
            for sig in SHUTDOWN_SIGNALS:
                signal.signal(sig, lambda *_: stop.set())
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SHUTDOWN_SIGNALS)
        if not stop.is_set():
            serve.start(http_options={"host": args.host, "port": args.port}, detached=False)
            serve.run(_application(tokens, args, max_replicas, temp_root), name=APP_NAME, route_prefix="/",
                      blocking=False)
        if not stop.is_set():
            print(f"atelier ray-serve ready on http://{args.host}:{args.port}", flush=True)
        stop.wait()
    finally:
        if ray.is_initialized():
            with contextlib.suppress(Exception):  # shutting down what did start matters more
                # On a shared cluster only this application goes; other users' apps stay.
                serve.delete(APP_NAME) if args.address else serve.shutdown()
        ray.shutdown()  # also after a failed start: it stops whatever processes did start
        shutil.rmtree(temp_root, ignore_errors=True)
    return 0


def _start_ray(ray, address: str) -> None:
    if address:
        ray.init(address=address, logging_level="WARNING")
        return
    # Ray turns on its own token authentication for a local cluster and writes its token to
    # ~/.ray/auth_token with the process's umask (usually world-readable): anyone on the machine
    # could then talk to Ray's ports. Make it this user's alone, also when an earlier run made it.
    previous = os.umask(0o077)
    try:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, _node_ip_address=LOOPBACK,
                 object_store_memory=OBJECT_STORE_BYTES, logging_level="WARNING")
    finally:
        os.umask(previous)
    with contextlib.suppress(OSError):
        if RAY_TOKEN_FILE.stat().st_uid == os.getuid() and RAY_TOKEN_FILE.stat().st_mode & 0o077:
            RAY_TOKEN_FILE.chmod(0o600)


def _local_ray_on_loopback() -> None:
    # Replicas import ``backend`` and ``core`` as this process does: from the extension folder.
    root = str(Path(__file__).resolve().parents[2])
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    # Ray replaces a loopback node address with the machine's own unless it is told the cluster is
    # this machine alone; then its GCS, raylet, workers and agents all listen on 127.0.0.1.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


def _application(tokens: list[str], args: argparse.Namespace, max_replicas: int, temp_root: str):
    import ray

    from .ingress import Ingress
    from .vetting import model_dirs
    from .worker import Worker

    # GPUs only where the cluster has them: on a CPU-only machine the replicas run on the CPU.
    gpus = args.gpus_per_replica if ray.cluster_resources().get("GPU", 0) > 0 else 0
    scaling = ({"num_replicas": args.replicas} if max_replicas == args.replicas else
               {"autoscaling_config": {"min_replicas": args.replicas, "max_replicas": max_replicas,
                                       "target_ongoing_requests": 1, "upscale_delay_s": UPSCALE_DELAY_S}})
    worker = Worker.options(ray_actor_options={"num_cpus": 0, "num_gpus": gpus}, **scaling).bind(temp_root)
    folders = [str(folder) for folder in model_dirs(args.model_dir)]
    return Ingress.bind(worker, tokens, folders, temp_root, args.allow_downloads)
