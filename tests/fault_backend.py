"""``python tests/fault_backend.py serve …``: the real backend with test-only faults armed.

Run in the extension folder like ``python -m backend``. Faults are chosen by environment
variables the test sets; none of this ships with the extension.

- ``FAULT_OOM_PROMPT``: a texture job whose prompt equals this value raises torch's
  ``OutOfMemoryError`` at its first denoising step (where a real GPU would run out), so the
  out-of-memory path is tested without filling a device.
- ``FAULT_PAUSE_AT`` + ``FAULT_PAUSE_FILE``: the backend stops at one point of a job, writes
  ``"<pid> <point>"`` to the pause file and waits until ``<pause file>.resume`` exists (a test
  kills it there, or changes the world and lets it go on). Points (``fault_points.py``):
  ``load`` (a model is being built, after it was found), ``step:K`` (denoising step K was
  reported), ``write:N`` (half of the job's N-th file is on disk), ``image`` (an
  ``early_pixels`` texture sent its ``image`` event, before its PNG), ``result`` (the result
  event was sent, before the next job). The point is reached once per backend process, or
  ``FAULT_PAUSE_TIMES`` times: resumed from any pause but the last, the backend removes the
  pause and resume files before it goes on, so the test waits for the next pause as for the first.
- ``FAULT_DIE_AT`` + ``FAULT_PAUSE_FILE``: at that point (the same points) the backend writes
  ``"<pid> <point>"`` to the pause file and SIGKILLs itself at once, so what it sent is all it
  sends. At ``result`` it hands the result line to a small writer process that sends it on the
  backend's output only once the backend is dead (a zombie or reaped), then ends: the client
  reads the result, then the end of the output, from a backend that is already dead (a test's
  killer thread, polling for a pause, would mostly strike after a blocking operator applied
  it). Once for all backends started with it: one that finds the pause file there goes on (the
  fresh backend the client starts next runs the job to its end).
- ``FAULT_UNPRIVILEGED=1``: the backend drops root's power to ignore file permissions
  (``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``, ``CAP_FOWNER``) before anything else runs, so a
  folder made read-only stops its writes even where the tests run as root (CI); for any other
  user it changes nothing (it holds none of them). Linux only.
"""

import ctypes
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

FAULT_OOM_PROMPT = "FAULT_OOM_PROMPT"
FAULT_PAUSE_AT = "FAULT_PAUSE_AT"
FAULT_PAUSE_FILE = "FAULT_PAUSE_FILE"
FAULT_PAUSE_TIMES = "FAULT_PAUSE_TIMES"
FAULT_DIE_AT = "FAULT_DIE_AT"
FAULT_UNPRIVILEGED = "FAULT_UNPRIVILEGED"
# Linux capability numbers (linux/capability.h) of the powers that override file permissions.
PERMISSION_OVERRIDES = {"CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3}
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_permission_overrides() -> None:
    """Remove the permission-override capabilities from this process for good (effective,
    permitted and inheritable sets). Threads inherit them from the one that starts them, so
    this runs before any other thread exists."""
    if os.geteuid() != 0:
        return  # an ordinary user holds none of them: permissions already apply
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _CapHeader(_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    mask = ~sum(1 << bit for bit in PERMISSION_OVERRIDES.values()) & 0xFFFFFFFF
    data[0].effective &= mask
    data[0].permitted &= mask
    data[0].inheritable &= mask
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _arm_out_of_memory(prompt: str) -> None:
    import backend.tasks  # cheap: task modules load on first use, torch with them

    find_runner = backend.tasks.get_runner

    def get_runner(kind: str):
        run = find_runner(kind)
        if kind != "texture":
            return run

        def run_with_fault(request, job):
            if request.prompt == prompt:
                def progress(*_args, **_kwargs):
                    import torch

                    raise torch.OutOfMemoryError(f"fault {FAULT_OOM_PROMPT}: simulated out of memory")

                job.progress = progress  # the first step reports progress: it fails there
            return run(request, job)

        return run_with_fault

    backend.tasks.get_runner = get_runner


# The writer of a dying backend's result line: waits until the backend (argv[1]) is dead, then
# sends the line (argv[2]) on the output it inherited, the backend's protocol stream.
_LAST_WORDS = """
import sys, time
def dead(pid):
    try:
        with open(f"/proc/{pid}/stat") as status:
            return status.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except FileNotFoundError:
        return True
while not dead(sys.argv[1]):
    time.sleep(0.001)
sys.stdout.write(sys.argv[2] + "\\n")
"""


def _send_when_dead(line: str, out_fd: int) -> None:
    """Start the writer that sends ``line`` on ``out_fd`` once this process is dead."""
    subprocess.Popen([sys.executable, "-c", _LAST_WORDS, str(os.getpid()), line], stdin=subprocess.DEVNULL,
                     stdout=out_fd, stderr=subprocess.DEVNULL)


class _Pause:
    """Stops the backend ``times`` times at the named point, each time until the test resumes
    (or kills) it; or, with ``die``, kills it there (``FAULT_DIE_AT``)."""

    def __init__(self, point: str, pause_file: Path, times: int = 1, die: bool = False) -> None:
        self.point, self.pause_file, self.die = point, pause_file, die
        self._reached = threading.Lock()
        self._left = times

    def __call__(self, point: str, last_words=None) -> None:
        """Stop (or die) here if ``point`` is the armed one and times are left; a dying backend
        calls ``last_words()`` just before it dies."""
        if point != self.point:
            return
        with self._reached:
            if self._left == 0:
                return
            self._left -= 1
            again = self._left > 0
        if self.die and self.pause_file.exists():
            return  # an earlier backend died here: this one is the fresh one
        partial = self.pause_file.with_name(self.pause_file.name + ".partial")
        partial.write_text(f"{os.getpid()} {point}")
        partial.replace(self.pause_file)  # whole, or not there
        if self.die:
            if last_words is not None:
                last_words()
            os.kill(os.getpid(), signal.SIGKILL)
        resume = self.pause_file.with_name(self.pause_file.name + ".resume")
        while not resume.exists():
            time.sleep(0.005)
        if again:  # gone before the job goes on, so the next pause is the next file there
            self.pause_file.unlink()
            resume.unlink()


def _arm_pause(point: str, pause_file: Path, times: int = 1, die: bool = False) -> None:
    import backend.model_cache
    import backend.output_files
    import backend.server
    import backend.task_context
    from core import protocol

    pause = _Pause(point, pause_file, times, die)

    get_or_load = backend.model_cache.ModelCache.get_or_load

    def loading(self, key, locate, build):
        def paused_build(located):
            pause("load")
            return build(located)

        return get_or_load(self, key, locate, paused_build)

    backend.model_cache.ModelCache.get_or_load = loading

    progress = backend.task_context.JobContext.progress

    def stepping(self, step, total, stage=""):
        progress(self, step, total, stage)
        pause(f"step:{step}")

    backend.task_context.JobContext.progress = stepping

    early_pixels = backend.task_context.JobContext.early_pixels

    def handing_over(self, path, width, height):
        early_pixels(self, path, width, height)
        pause("image")

    backend.task_context.JobContext.early_pixels = handing_over

    write_file = backend.output_files.write_file
    written = iter(range(1, 1 << 30))

    def writing(path, data):
        number = next(written)
        if point == f"write:{number}":
            with open(path, "xb") as handle:
                handle.write(data[: len(data) // 2])
            pause(point)
            path.unlink(missing_ok=True)  # resumed: the real write makes the file anew (a test
            # that takes the folder's write permission away removes the half file itself)
        write_file(path, data)

    for module in list(sys.modules.values()):  # every module that imported it by name
        if getattr(module, "write_file", None) is write_file:
            module.write_file = writing
    backend.output_files.write_file = writing

    run_job = backend.server.run_job

    def dying_with_the_result(emit):
        """``emit`` (the server's, for one job) that dies at the result, handing its line on."""
        def emitting(event):
            if isinstance(event, protocol.ResultEvent):
                line, out_fd = backend.server.event_line(event), emit.__self__._out.fileno()
                pause("result", last_words=lambda: _send_when_dead(line, out_fd))
            emit(event)  # not the dying one: the fresh backend after it

        return emitting

    def running(request, cache, emit, cancel):
        if die and point == "result":
            emit = dying_with_the_result(emit)
        outcome = run_job(request, cache, emit, cancel)
        if outcome[0] is None:
            pause("result")
        return outcome

    backend.server.run_job = running


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the extension folder
    if os.environ.get(FAULT_UNPRIVILEGED) == "1":
        drop_permission_overrides()
    if os.environ.get(FAULT_OOM_PROMPT):
        _arm_out_of_memory(os.environ[FAULT_OOM_PROMPT])
    if os.environ.get(FAULT_PAUSE_AT):
        _arm_pause(os.environ[FAULT_PAUSE_AT], Path(os.environ[FAULT_PAUSE_FILE]),
                   int(os.environ.get(FAULT_PAUSE_TIMES, "1")))
    if os.environ.get(FAULT_DIE_AT):
        _arm_pause(os.environ[FAULT_DIE_AT], Path(os.environ[FAULT_PAUSE_FILE]), die=True)
    sys.argv = ["python -m backend", *sys.argv[1:]]
    runpy.run_module("backend", run_name="__main__", alter_sys=True)
