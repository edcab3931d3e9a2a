"""Start Atelier's backend in a fresh Blender, then quit without disabling the extension.

Run as ``python quit_with_backend.py SCRATCH_DIR`` with ``ATELIER_PYTHON`` set; prints the
backend's process id. The test then checks that the backend did not outlive Blender.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="atelier-quit-user-")

import bpy  # noqa: E402  (reads the user folder when imported)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the shared test helpers
from blender_helpers import install_checkout  # noqa: E402


def main(scratch: Path) -> int:
    atelier = install_checkout(bpy, scratch / "extensions", "atelier_quit")
    jobs, protocol = atelier.client.session, atelier.core.protocol
    client = jobs.client_for(atelier.preferences.backend_config(jobs.EXTENSION_DIR))
    client.submit(protocol.PingRequest(id="quit-ping"))
    deadline = time.monotonic() + 60
    while not any(isinstance(event, protocol.PongEvent) for event in client.poll(timeout=0.2)):
        assert time.monotonic() < deadline, f"the backend did not answer: {client.log_tail()}"
    return client._transport.pid


if __name__ == "__main__":
    print(f"ATELIER-BACKEND-PID {main(Path(sys.argv[1]))}", flush=True)
