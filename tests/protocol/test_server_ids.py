"""Job ids are unique among queued and running jobs, so an id is free again the moment its job's
final event goes out: a client that reads the event and reuses the id must not be refused."""

import json

from backend.server import Server

HARMONY = {"type": "palette", "source": "harmony", "harmony": "triadic", "base_color": "#336699",
           "count": 3}


class WatchingOutput:
    """The protocol stream, noting whether each final event's id was still busy as it was written
    (this runs inside the server's write, before anything after it)."""

    def __init__(self):
        self.server = None
        self.busy_at_final = []

    def write(self, text):
        for line in filter(None, text.split("\n")):
            event = json.loads(line)
            if event["type"] in ("result", "error") and event.get("id"):
                running = self.server._running  # the one job the worker holds
                self.busy_at_final.append(running is not None and running[0].id == event["id"])

    def flush(self):
        pass


def test_a_final_event_is_written_after_its_job_has_let_go_of_the_id():
    output = WatchingOutput()
    server = output.server = Server(output)
    server._worker.start()
    for number, request in enumerate([HARMONY, {"type": "palette", "prompt": "x", "seed": -1},
                                      {"type": "unload"}]):
        done = len(output.busy_at_final)
        server.handle_line(json.dumps({**request, "id": f"job-{number}"}).encode())
        while len(output.busy_at_final) == done:
            server._worker.join(0.01)
    server.stop()
    assert output.busy_at_final == [False, False, False]  # result, error, unload's result
