"""``python -m backend models`` and ``python -m backend download``: the model manager's commands.

``models`` reads the local Hugging Face cache only and prints the table of known models (``--json``
prints the ``models`` result's data). ``download`` fetches a model with the same task the
preferences use, printing progress in MB on stderr. Both return the job's final event; the
command line (``cli.py``) reports a failure and prints the download's result.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

from core import protocol

from .model_cache import ModelCache
from .server import run_job, run_request


def list_models(args: argparse.Namespace) -> protocol.Event:
    """Print the known models with what the cache holds (a table, or JSON with ``--json``)."""
    result = run_request(protocol.ModelsRequest(id="cli"))
    if isinstance(result, protocol.ErrorEvent):
        return result
    if args.json:
        print(json.dumps(result.data, indent=2, ensure_ascii=False))
        return result
    print(f"{'kind':8} {'model':45} {'GB':>5} {'GiB':>5}  {'licence':44} cached revisions")
    for row in result.data["models"]:
        size = "?" if row["download_gb"] is None else f"{row['download_gb']:g}"
        memory = "?" if row["gpu_gib"] is None else f"{row['gpu_gib']:g}"
        licence = row["licence"] + ("" if row["commercial_use"] else " *")
        cached = ", ".join(
            revision["revision"][:12] + _labels(revision) for revision in row["revisions"]) or "-"
        print(f"{row['kind']:8} {row['id']:45} {size:>5} {memory:>5}  {licence:44} {cached}")
    print("* the licence restricts commercial use: read it; `download` needs --accept-licence")
    print("sizes are approximate; GB = download size, GiB = GPU memory in fp16")
    return result


def _labels(revision: dict) -> str:
    labels = [*revision["refs"], *(["downloaded by Atelier"] if revision["atelier"] else [])]
    return f" ({', '.join(labels)})" if labels else ""


def download(args: argparse.Namespace) -> protocol.Event:
    """Download one model, with progress on stderr. Ctrl+C cancels and leaves nothing
    half-written."""
    request = protocol.DownloadRequest(id="cli", model=args.model, revision=args.revision,
                                       accept_licence=args.accept_licence)
    events: list = []

    def emit(event: protocol.Event) -> None:
        if isinstance(event, protocol.ProgressEvent):
            print(f"{event.step / 1e6:.1f} / {event.total / 1e6:.1f} MB {event.stage}", file=sys.stderr)
        else:
            events.append(event)

    code, message, hint = run_job(request, ModelCache(), emit, threading.Event())
    if code is not None:
        return protocol.ErrorEvent(id=request.id, code=code, message=message, hint=hint)
    return events[-1]
