"""``python image_event_tamper.py -m backend serve …``: the real backend behind a pipe that
changes the early pixels it hands over, for the client's tests; none of this ships.

The JSON file named by ``TAMPER_PLAN`` says how, read afresh for every line (the test writes
it before each job; a missing key changes nothing):

- ``"image"``: how the ``image`` event is changed on its way to the client: ``"outside"`` (it
  names the file ``"outside"`` names, one the test made outside the job's folder), ``"size"``
  (one pixel wider than its file holds), ``"format"`` (its file called a ``png``),
  ``"two_files"`` (its file named twice, the second time as a ``normal`` map);
- ``"ask"``: true sends every texture request to the backend with ``early_pixels`` on, whatever
  the client asked, so the backend hands pixels over for a job that did not ask.
Every other line passes as it is. The backend's stderr is this process's own.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

PLAN = "TAMPER_PLAN"


def plan() -> dict:
    return json.loads(Path(os.environ[PLAN]).read_text())


def changed_image(event: dict, how: str, outside: str) -> dict:
    (file,) = event["files"]
    if how == "outside":
        file["path"] = outside
    elif how == "size":
        event["width"] += 1
    elif how == "format":
        file["format"] = "png"
    elif how == "two_files":
        event["files"].append({**file, "role": "normal"})
    return event


def forward_requests(backend_input) -> None:
    """The client's lines to the backend, texture requests asking for early pixels when planned."""
    for line in sys.stdin.buffer:
        request = json.loads(line)  # the client writes one JSON object per line
        if plan().get("ask") and request.get("type") == "texture":
            line = json.dumps({**request, "early_pixels": True}).encode() + b"\n"
        backend_input.write(line)
        backend_input.flush()
    backend_input.close()  # the client is gone: so is the backend's input


def main() -> int:
    backend = subprocess.Popen([sys.executable, *sys.argv[1:]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    threading.Thread(target=forward_requests, args=(backend.stdin,), daemon=True).start()
    for line in backend.stdout:
        event = json.loads(line)
        how = plan()
        if event.get("type") == "image" and how.get("image"):
            line = json.dumps(changed_image(event, how["image"], how.get("outside", ""))).encode() + b"\n"
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
    return backend.wait()


if __name__ == "__main__":
    sys.exit(main())
