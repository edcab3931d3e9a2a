"""Soak: many tiny jobs through one served backend and through Blender, and what each process
holds after a warm-up against what it holds at the end.

Two parts, each runnable alone:
- served: one ``python -m backend serve`` (one torch thread, the tiny random SD model) gets
  ``--warmup`` jobs, then ``--served`` more, one after another in a fixed rotation: a 64 px
  2-step texture, classic maps of a picture, a live preview, a palette from a picture, and a
  cancelled job (a cancel sent after its first step, or a preview overtaken by a newer one).
  Each job's folder is removed as its result arrives.
- blender: a separate process, real Blender (the bpy module) with Atelier installed as an
  extension and a private user folder, runs ``--warmup`` then ``--blender`` operator calls as an
  artist would, in rotation: ``generate_texture`` on a cube, the same with classic maps, a
  palette from a picture applied to the cube, and ``project_texture`` from the scene camera
  (one view). After each call its results are deleted by name as an artist would (the cube's
  materials with the images they show, the palette, the projection's view collection with its
  cameras and view images, the history entries). Nothing is purged: a datablock Atelier leaves
  behind without users stays and is counted.

For each process the figures are read before the warm-up, after it and at the end: its pid,
resident memory (``VmRSS``), open files (``/proc/<pid>/fd``), threads (``/proc/<pid>/task``),
and for Blender the number of datablocks of each kind. What holds steady is judged from the
reading after the warm-up to the end; Blender's backend starts with the first call, so it has no
reading before the warm-up. Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/soak.py [--warmup 50] [--served 500] [--blender 200]
        [--only served|blender] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serve_client import ServeProcess  # noqa: E402 (the checkout's root goes on the path first)

SIZE, STEPS = 64, 2
LONG_STEPS = 50  # a job that is cancelled runs long enough for the cancel to meet it
# What Blender's figures count: the datablocks a job may make or leave behind.
DATABLOCKS = ("images", "materials", "textures", "texts", "node_groups", "meshes", "objects",
              "collections", "cameras", "palettes")
SERVED_KINDS = ("texture", "maps", "preview", "palette", "cancel")
BLENDER_KINDS = ("texture", "texture_maps", "palette", "project")


# ---------------------------------------------------------------------- what a process holds


def process_figures(pid: int) -> dict:
    """The pid (a process replaced mid-run shows as another pid), resident memory (MB), open
    files and threads of the process ``pid``, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return {"pid": pid, "rss_mb": round(rss_kb / 1024, 1), "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": len(os.listdir(f"/proc/{pid}/task"))}


def soak_phases(run, kinds: tuple[str, ...], warmup: int, jobs: int, figures) -> dict:
    """``figures()``, ``run(kind)`` ``warmup`` times, ``figures()``, ``jobs`` more times,
    ``figures()`` again; the three readings, the wall times and the median milliseconds of each
    kind after the warm-up."""
    start = figures()
    started = time.perf_counter()
    for index in range(warmup):
        run(kinds[index % len(kinds)])
    after_warmup = figures()
    timed, times = time.perf_counter(), {kind: [] for kind in kinds}
    for index in range(jobs):
        kind = kinds[index % len(kinds)]
        job_started = time.perf_counter()
        run(kind)
        times[kind].append(time.perf_counter() - job_started)
    end, seconds = figures(), time.perf_counter() - timed
    return {"start": start, "after_warmup": after_warmup, "end": end, "warmup": warmup, "jobs": jobs,
            "kinds": list(kinds),
            "warmup_seconds": round(timed - started, 1), "seconds": round(seconds, 1),
            "jobs_per_second": round(jobs / seconds, 2) if jobs else None,
            "median_ms": {kind: round(1000 * statistics.median(t), 1) for kind, t in times.items() if t}}


def by_process(phases: dict, processes: tuple[str, ...]) -> dict:
    """``soak_phases``'s figures with the three readings regrouped by process, with the growth
    from the warm-up to the end (a process not yet running at the start reads ``None`` there)."""
    start, before, after = phases.pop("start"), phases.pop("after_warmup"), phases.pop("end")
    return {**phases, **{process: {"start": start[process], "after_warmup": before[process],
                                   "end": after[process], "growth": growth(before[process], after[process])}
                         for process in processes}}


def growth(before: dict, after: dict) -> dict:
    """``after`` minus ``before`` for every figure both have (not the pid: it is the same or not)."""
    return {name: round(after[name] - before[name], 1) for name in before if name in after and name != "pid"}


# ---------------------------------------------------------------------- inputs


def build_models(folder: Path, control: bool) -> dict:
    """The tiny SD model (and, with ``control``, its tiny depth ControlNet) built in a
    subprocess, so the measuring process never imports torch."""
    code = ("import sys; sys.path.insert(0, 'tests'); from backend.doctor_models import build_tiny_sd; "
            "build_tiny_sd(sys.argv[1])")
    if control:
        code += "; from tiny_pipelines import build_tiny_controlnet; build_tiny_controlnet(sys.argv[2])"
    models = {"model": folder / "tiny-sd", "control_model": folder / "tiny-controlnet"}
    subprocess.run([sys.executable, "-c", code, str(models["model"]), str(models["control_model"])],
                   cwd=ROOT, check=True, timeout=600)
    return models


def write_picture(path: Path) -> Path:
    """A small RGB picture with a few colours (maps and palettes are made from it)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (4, 3), dtype=np.uint8)
    pixels = colours[(np.arange(SIZE)[:, None] // 16 + np.arange(SIZE)[None, :] // 32) % 4]
    Image.fromarray(pixels).save(path)
    return path


# ---------------------------------------------------------------------- the served part


class ServedSoak:
    """Jobs through one serve process; each job's folder goes as soon as the job ends."""

    def __init__(self, model: Path, picture: Path, out: Path) -> None:
        self.model, self.picture, self.out = str(model), str(picture), out
        self.server = ServeProcess(env={"HF_HUB_OFFLINE": "1", "ATELIER_DEVICE": "cpu",
                                        "OMP_NUM_THREADS": "1"})
        self.count = 0

    def send(self, request: dict) -> None:
        self.server.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.server.proc.stdin.flush()

    def until_end(self, job: str, *, progress: bool = False) -> dict:
        """The job's ``result`` or ``error`` (with ``progress``: its first ``progress`` instead)."""
        while True:
            event = self.server.read()
            if event.get("id") in (job, None) and (
                    event["type"] in ("result", "error") or (progress and event["type"] == "progress")):
                return event

    def texture(self, job: str, **fields) -> dict:
        return {"type": "texture", "id": job, "prompt": "weathered red bricks", "model": self.model,
                "output_dir": str(self.out), "width": SIZE, "height": SIZE, "steps": STEPS,
                "seed": self.count, "device": "cpu", **fields}

    def run(self, kind: str) -> None:
        """One job of ``kind`` (``SERVED_KINDS``) to its end; raises when it ends otherwise."""
        self.count += 1
        job = f"soak-{self.count}"
        if kind == "cancel":
            self._cancelled(job)
            return
        request = {
            "texture": lambda: self.texture(job),
            "preview": lambda: self.texture(job, preview=True),
            "maps": lambda: {"type": "maps", "id": job, "image": self.picture, "model": "classic",
                             "maps": ["normal", "height", "roughness"], "output_dir": str(self.out)},
            "palette": lambda: {"type": "palette", "id": job, "source": "image", "image": self.picture,
                                "count": 5, "output_dir": str(self.out)},
        }[kind]()
        self.send(request)
        self._expect(self.until_end(job), "result", job)

    def _cancelled(self, job: str) -> None:
        """A long job cancelled after its first step: every other time by a ``cancel``, else by a
        newer live preview that overtakes it (which then runs to its end)."""
        by_preview = self.count % 2 == 0
        self.send(self.texture(job, steps=LONG_STEPS, preview=by_preview))
        first = self.until_end(job, progress=True)
        if first["type"] != "progress":
            raise RuntimeError(f"job {job} ended before its first step: {first}")
        if by_preview:
            newer = f"{job}-newer"
            self.send(self.texture(newer, preview=True))
            self._expect(self.until_end(job), "error", job)
            self._expect(self.until_end(newer), "result", newer)
        else:
            self.send({"type": "cancel", "id": f"{job}-cancel", "job": job})
            self._expect(self.until_end(job), "error", job)

    def _expect(self, event: dict, kind: str, job: str) -> None:
        shutil.rmtree(self.out / job, ignore_errors=True)  # the job's folder, as a client removes it
        if event["type"] != kind or (kind == "error" and event["code"] != "cancelled"):
            raise RuntimeError(f"job {job} ended with {event}")

    def close(self) -> None:
        self.server.close()


def soak_served(model: Path, work: Path, warmup: int, jobs: int) -> dict:
    """``warmup`` then ``jobs`` jobs through one serve process; its figures after each phase."""
    out = work / "served-jobs"
    out.mkdir(parents=True, exist_ok=True)
    soak = ServedSoak(model, write_picture(work / "served-picture.png"), out)
    try:
        pid = soak.server.proc.pid
        phases = soak_phases(soak.run, SERVED_KINDS, warmup, jobs,
                             lambda: {"backend": process_figures(pid)})
    finally:
        soak.close()
    return {**by_process(phases, ("backend",)),
            "files_left": sorted(str(p.relative_to(out)) for p in out.rglob("*"))}


# ---------------------------------------------------------------------- the Blender part


class BlenderSoak:
    """Atelier's operators in this process's Blender, with each call's results removed after it."""

    def __init__(self, bpy, atelier, picture: Path, control_model: str) -> None:
        self.bpy, self.atelier, self.picture, self.control_model = bpy, atelier, str(picture), control_model
        self.count = 0
        bpy.ops.wm.read_homefile(use_empty=True)
        bpy.ops.mesh.primitive_cube_add(size=2.0, calc_uvs=True)
        self.cube = bpy.context.active_object
        self.cube.name = "Soak cube"
        camera = bpy.data.objects.new("Soak camera", bpy.data.cameras.new("Soak camera"))
        bpy.context.scene.collection.objects.link(camera)
        camera.location, camera.rotation_euler = (0.0, -6.0, 0.0), (1.5708, 0.0, 0.0)
        bpy.context.scene.camera = camera
        self.cube.select_set(True)
        bpy.context.view_layer.objects.active = self.cube

    def run(self, kind: str) -> None:
        """One operator call of ``kind`` (``BLENDER_KINDS``), then its results removed."""
        self.count += 1
        ops, prompt = self.bpy.ops.atelier, f"soak {kind} {self.count}"
        common = {"prompt": prompt, "seed": self.count, "target": self.cube.name}
        if kind in ("texture", "texture_maps"):
            maps = {"NORMAL", "ROUGHNESS"} if kind == "texture_maps" else set()
            outcome = ops.generate_texture(width=SIZE, height=SIZE, steps=STEPS, maps=maps,
                                           maps_model="classic", **common)
        elif kind == "palette":
            outcome = ops.generate_palette(source="IMAGE", image=self.picture, count=5)
            if outcome == {"FINISHED"}:
                self.cube.data.materials.append(self.bpy.data.materials.new(prompt))
                outcome = ops.apply_palette(scope="SELECTED")
        else:
            outcome = ops.project_texture(views=1, view_size=SIZE, texture_size=SIZE, maps=set(),
                                          style="soak", control_model=self.control_model, **common)
        if outcome != {"FINISHED"}:
            raise RuntimeError(f"{kind} call {self.count} ended {outcome}")
        self.remove_results(prompt)

    def remove_results(self, prompt: str) -> None:
        """What an artist deletes, by name, to undo the call's work: the cube's materials and
        the images they show, the projection's view collection (named after the result) with its
        cameras and their "<result> View N" images, the palette and the history entries.
        Nothing is purged, so a datablock Atelier leaves without users stays and is counted."""
        bpy, scene = self.bpy, self.bpy.context.scene
        for material in {slot.material for slot in self.cube.material_slots} - {None}:
            nodes = material.node_tree.nodes if material.node_tree else ()
            shown = {node.image for node in nodes if node.type == "TEX_IMAGE"}
            bpy.data.materials.remove(material)
            for image in shown - {None}:
                bpy.data.images.remove(image)
        self.cube.data.materials.clear()
        views = bpy.data.collections.get(prompt)
        if views is not None:
            for obj in list(views.objects):
                camera, picture = obj.data, self.atelier.apply.project_views.view_image_name(prompt, obj.name)
                bpy.data.images.remove(bpy.data.images[picture])
                bpy.data.objects.remove(obj)
                bpy.data.cameras.remove(camera)  # the data a deleted object leaves behind
            bpy.data.collections.remove(views)
        palette = scene.atelier.palette.palette
        if palette is not None:
            scene.atelier.palettes.remove(scene.atelier.palettes.find(palette.name))
            bpy.data.palettes.remove(palette)
        scene.atelier.history.clear()

    def figures(self) -> dict:
        """Blender's own figures (memory after a garbage collection), its datablocks, and the
        figures of the backend it talks to now (``None`` before it started)."""
        gc.collect()
        backend = self.atelier.client.session.current_client()
        return {"blender": process_figures(os.getpid()),
                "datablocks": {name: len(getattr(self.bpy.data, name)) for name in DATABLOCKS},
                "backend": None if backend is None else process_figures(backend.hello.pid)}


def soak_blender(model: Path, control_model: Path, work: Path, warmup: int, jobs: int) -> dict:
    """``warmup`` then ``jobs`` operator calls in this process's Blender (``bpy`` is imported
    here); the figures after each phase."""
    os.environ.update({"HF_HUB_OFFLINE": "1", "ATELIER_PYTHON": sys.executable, "ATELIER_DEVICE": "cpu",
                       "ATELIER_TEXTURE_MODEL": str(model), "OMP_NUM_THREADS": "1"})
    # Always a private user folder: the run installs an extension and writes a styles file there.
    os.environ["BLENDER_USER_RESOURCES"] = str(work / "blender-user")
    import bpy

    from tools.demo import install_extension

    atelier = install_extension(bpy)
    # A style with the few steps the tiny model needs (projection takes steps from a style only).
    atelier.preferences.styles_file().write_text(
        json.dumps({"soak": {"prompt": "{prompt}", "defaults": {"steps": STEPS}}}))
    soak = BlenderSoak(bpy, atelier, write_picture(work / "blender-picture.png"), str(control_model))
    try:
        phases = soak_phases(soak.run, BLENDER_KINDS, warmup, jobs, soak.figures)
        jobs_folder = Path(atelier.preferences.user_folder("jobs"))
        left = sorted(str(p.relative_to(jobs_folder)) for p in jobs_folder.rglob("*"))
    finally:
        atelier.client.session.shutdown()
    return {**by_process(phases, ("blender", "backend", "datablocks")),
            "blender_version": bpy.app.version_string, "files_left": left}


# ---------------------------------------------------------------------- the command


def print_table(title: str, part: dict, processes: tuple[str, ...]) -> None:
    print(f"{title}: {part['warmup']} warm-up + {part['jobs']} jobs in {part['seconds']} s "
          f"({part['jobs_per_second']} jobs/s), kinds {', '.join(part['kinds'])}")
    print(f"  {'':<22}{'start':>10}{'after warm-up':>14}{'end':>10}{'growth':>10}")
    for process in processes:
        figures = part[process]
        for name, value in figures["after_warmup"].items():
            start = "-" if figures["start"] is None else figures["start"][name]
            print(f"  {process + ' ' + name:<22}{start:>10}{value:>14}{figures['end'][name]:>10}"
                  f"{figures['growth'].get(name, ''):>10}")
    print("  median ms per job: " + ", ".join(f"{kind} {ms}" for kind, ms in part["median_ms"].items()))
    print(f"  files left in the job folders: {len(part['files_left'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=50, help="jobs before the first reading")
    parser.add_argument("--served", type=int, default=500, help="jobs through the served backend")
    parser.add_argument("--blender", type=int, default=200, help="operator calls in Blender")
    parser.add_argument("--only", choices=("served", "blender"), help="run one part")
    parser.add_argument("--model", help="the tiny SD folder to use (default: built here)")
    parser.add_argument("--control-model", help="its tiny depth ControlNet folder (default: built here)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    results = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="atelier-soak-") as tmp:
        work = Path(tmp)
        if args.model and (args.control_model or args.only == "served"):
            models = {"model": Path(args.model), "control_model": args.control_model}
        else:
            models = build_models(work / "models", control=args.only != "served")
        if args.only in (None, "served"):
            results["served"] = soak_served(models["model"], work, args.warmup, args.served)
            print_table("served backend", results["served"], ("backend",))
        if args.only == "blender":
            results["blender"] = soak_blender(models["model"], models["control_model"], work,
                                              args.warmup, args.blender)
        elif args.only is None:  # Blender in a process of its own, as artists run it
            part = work / "blender.json"
            subprocess.run([sys.executable, __file__, "--only", "blender", "--warmup", str(args.warmup),
                            "--blender", str(args.blender), "--model", str(models["model"]),
                            "--control-model", str(models["control_model"]), "--json", str(part)],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            results["blender"] = json.loads(part.read_text())["blender"]
        if "blender" in results:
            print_table("Blender", results["blender"], ("blender", "backend", "datablocks"))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
