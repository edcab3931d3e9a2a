"""A Blender session with Atelier jobs under way, ended the way its first argument says.

``python quit_blender_session.py HOW SCRATCH [--maps-model FOLDER] [--until step|paused]`` in a
process of its own (``import bpy`` cannot be undone), with ``BLENDER_USER_RESOURCES`` (sessions
run one after another share it, and so Atelier's jobs folder), ``ATELIER_PYTHON``,
``ATELIER_TEXTURE_MODEL``, ``ATELIER_DEVICE`` and ``HF_HUB_OFFLINE`` set. It installs this checkout
as an extension, starts jobs the way the operators' asynchronous path does (``session.submit``,
nothing waits): a slow texture job that runs, and a second texture job and a maps job (with
``--maps-model``) queued behind it. Once the first one runs (``--until step``: denoising has
begun; ``paused``: a fault-armed backend stands at its pause point, ``FAULT_PAUSE_FILE``) it
prints ``ATELIER-SESSION <json>``: the backend's pid, the jobs folder, the jobs' folders and the
folders of input files it made as the operators make them (``picture_file.input_folder``: a maps,
an image edit, a projection and a palette job's), removed when it ends. Then:

- ``quit``: once a line arrives on its stdin (so the quit starts when the caller says),
  ``bpy.ops.wm.quit_blender()`` (under the bpy module it only asks Blender's event loop, which
  never runs, to quit), then the script ends;
- ``exit``: the script ends, so the interpreter exits (``atexit``: ``session.shutdown``);
- ``stay``: waits until its stdin closes, then ends like ``exit`` (a test kills it meanwhile to
  play a crash, or keeps it as a second Blender that is still running);
- ``one-job``: starts no jobs but one small texture job, waits for it and applies it (a new
  session's first job), waits for the sweep it started, prints ``ATELIER-SESSION``, then ends.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared test helpers
from blender_helpers import drain_until, install_checkout, mesh_object, slow_texture_request  # noqa: E402

REPO_MODULE = "atelier_quit"  # one name for every session, so they share Atelier's jobs folder
INPUT_PREFIXES = ("maps-input", "edit-input", "project", "palette-input")  # as the operators name them


def start_jobs(atelier, scratch: Path, maps_model: str, until: str) -> dict:
    """Jobs under way: one running, the others queued; what the test needs to know of them."""
    session, protocol = atelier.client.session, atelier.core.protocol
    jobs_folder = atelier.preferences.user_folder("jobs")
    client = session.client_for(atelier.preferences.backend_config(session.EXTENSION_DIR))
    model = os.environ["ATELIER_TEXTURE_MODEL"]
    running = session.submit(client, slow_texture_request(session, protocol, model, jobs_folder, "first"))
    jobs = [running, session.submit(client, slow_texture_request(session, protocol, model, jobs_folder,
                                                                 "second"))]
    if maps_model:
        picture = scratch / "picture.png"
        bpy.data.images.new("picture", 64, 64).save(filepath=str(picture))
        request = atelier.operators.maps.maps_request(session.new_request_id(), str(picture), ["normal"],
                                                      "off", maps_model)
        jobs.append(session.submit(client, request))
    pause_file = Path(os.environ.get("FAULT_PAUSE_FILE", "-"))

    def under_way() -> bool:
        started = running.step >= 1 if until == "step" else pause_file.exists()
        return started and all(job.stage != "starting backend" for job in jobs)

    drain_until(session, client, lambda: under_way() or any(job.done for job in jobs), what="the jobs")
    inputs = [atelier.operators.picture_file.input_folder(prefix, running.id) for prefix in INPUT_PREFIXES]
    for folder in inputs:
        (folder / "picture.png").write_bytes(b"png")
    return {"backend_pid": client._transport.pid, "jobs_folder": jobs_folder,
            "job_folders": [str(job.folder.path) for job in jobs],
            "input_folders": [str(folder) for folder in inputs],
            "stages": [job.stage for job in jobs], "ended": [job.id for job in jobs if job.done]}


def one_job(atelier) -> dict:
    """A new session's first job, run to the end and applied (its folder goes with it)."""
    mesh_object(bpy)
    sweep_from = time.monotonic()
    outcome = bpy.ops.atelier.generate_texture(prompt="next session", width=64, height=64, steps=1, seed=1)
    jobs_folder = atelier.preferences.user_folder("jobs")
    atelier.client.job_folder.sweep_of(jobs_folder).join()  # it runs on a thread of its own
    return {"outcome": sorted(outcome), "seconds": time.monotonic() - sweep_from, "jobs_folder": jobs_folder,
            "backend_pid": atelier.client.session.current_client()._transport.pid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("how", choices=("quit", "exit", "stay", "one-job"))
    parser.add_argument("scratch", type=Path)
    parser.add_argument("--maps-model", default="")
    parser.add_argument("--until", choices=("step", "paused"), default="step")
    args = parser.parse_args()
    atelier = install_checkout(bpy, args.scratch / f"extensions-{os.getpid()}", REPO_MODULE)
    if args.how == "one-job":
        report = one_job(atelier)
    else:
        report = start_jobs(atelier, args.scratch, args.maps_model, args.until)
    print("ATELIER-SESSION " + json.dumps(report), flush=True)
    if args.how == "quit":
        sys.stdin.readline()
        bpy.ops.wm.quit_blender()
    elif args.how == "stay":
        sys.stdin.read()
    for folder in report.get("input_folders", ()):  # as the operators release them when a job ends
        atelier.operators.picture_file.release(Path(folder))


if __name__ == "__main__":
    main()
