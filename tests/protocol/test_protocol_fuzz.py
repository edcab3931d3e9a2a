"""Protocol fuzz: seeded mutants of valid requests of every type, sent to one real ``serve``.

Each case is one line (``protocol_mutants.py`` makes them), followed by a ping of the driver's
own; everything the server answers before that ping's pong belongs to the case or to a job still
running. Checked for every case and at the end:

- every line that cannot be read far enough to find an id gets exactly one error with a null
  id, at once; an empty line gets nothing;
- every other line gets exactly one answer with its id (a pong, an error, or ``accepted``
  followed later by one ``result`` or ``error``); only a cancel may be silent, and then the job
  it names exists;
- every event is a valid protocol event, and none has the code ``internal`` (a traceback on
  the backend's side) or names an id nobody sent;
- at the end the server runs the jobs still queued, answers a ping, exits 0 on ``shutdown``,
  and its log holds no traceback.

``ATELIER_FUZZ_CASES`` (default 3000) and ``ATELIER_FUZZ_SEED`` (default 1) choose the run;
``bench/protocol_fuzz.py`` runs many more cases through this same test. A failure names the
seed, the case and its line, so ``ATELIER_FUZZ_SEED=<seed> ATELIER_FUZZ_CASES=<cases>``
replays it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter, defaultdict
from typing import NamedTuple

from protocol_mutants import BLANK, SYNC_PREFIX, Mutants, read_line

from core import protocol

DEFAULT_CASES = 3000
DEFAULT_SEED = 1
# A single id's events, in order, when one line carried it: one answer, or a job's life (an
# early_pixels texture's image event comes after its steps, before its end).
ONE_ANSWER = re.compile(r"pong|error|accepted( progress)*( image)? (result|error)")
RECENT_IDS = 50  # job ids a mutant may reuse or cancel


def test_mutated_requests_each_get_one_answer_and_the_server_lives(start_backend, tiny_sd, tmp_path):
    cases = int(os.environ.get("ATELIER_FUZZ_CASES", DEFAULT_CASES))
    seed = int(os.environ.get("ATELIER_FUZZ_SEED", DEFAULT_SEED))
    print(f"protocol fuzz: seed {seed}, {cases} cases")
    server = start_backend(env={"ATELIER_TEXTURE_MODEL": str(tiny_sd), "ATELIER_DEVICE": "cpu",
                                "ATELIER_MAX_SIZE": "64", "ATELIER_MAX_STEPS": "2",
                                "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1",
                                "ATELIER_STATE_DIR": str(tmp_path / "state")})
    run = FuzzRun(server, seed, cases, Mutants(seed, tmp_path / "fuzz"))
    assert run.next_event()["type"] == "hello"
    started = time.monotonic()
    for _ in range(cases):
        run.one_case()
    sent = time.monotonic()
    run.finish()
    print(f"protocol fuzz: {sent - started:.1f} s sending the cases, {time.monotonic() - sent:.1f} s "
          "for the queued jobs and the exit")


class Line(NamedTuple):
    """What the checks keep of a line that carried an id (lines can be megabytes long)."""

    case: int
    kind: str
    shown: bytes
    notes: list
    type: str | None
    job: str | None


def _short(value: object) -> str | None:
    """A field kept for the checks: text as long as an id may be, else None (a mutant's field can
    hold megabytes, and thousands of lines are kept)."""
    return value if isinstance(value, str) and len(value) <= protocol.MAX_ID_CHARS else None


def _shown(line: bytes) -> bytes:
    return line if len(line) <= 600 else line[:300] + b" ... " + line[-300:]


class FuzzRun:
    """The driver: sends cases, reads the answers, and fails naming the seed and the case."""

    def __init__(self, server, seed: int, cases: int, mutants: Mutants) -> None:
        self.server, self.seed, self.cases, self.mutants = server, seed, cases, mutants
        self.lines: dict[str, list[Line]] = defaultdict(list)  # id -> the lines that carried it
        self.events: dict[str, list[str]] = defaultdict(list)  # id -> event types in order
        self.answers: Counter = Counter()  # id -> pongs, results and errors
        self.tally: Counter = Counter()  # what the cases got, for the summary line
        self.accepted: list[str] = []  # ids of accepted jobs, oldest first
        self.open: list[str] = []  # accepted jobs without a final event yet (as far as seen)
        self.case = (0, "", b"", [])  # number, kind, line, mutations of the case being sent
        self.current_ids: set = set()  # the ids the case's line(s) carry

    # ---------------------------------------------------------------- cases

    def one_case(self) -> None:
        kind, line, notes = self.mutants.next(self.accepted[-RECENT_IDS:], list(self.open))
        self.case = (self.mutants.count, kind, line, notes)
        physical = line.split(b"\n")  # a newline inside a mutant makes two lines
        readings = [read_line(part) for part in physical]
        answers = [answer for answer, _ in readings]
        self.current_ids = set(answers)
        sync = f"{SYNC_PREFIX}{self.mutants.count}"
        self.server.proc.stdin.write(line + b"\n" + json.dumps({"type": "ping", "id": sync}).encode() + b"\n")
        self.server.proc.stdin.flush()
        nulls = 0
        while (event := self.next_event()) != {"type": "pong", "id": sync}:
            if event.get("id") is None:
                nulls += 1
                self.tally["unreadable"] += 1
                self.expect(event["type"] == "error", f"an event without an id that is no error: {event}")
            else:
                self.note(event)
        self.expect(nulls == answers.count(None),
                    f"{answers.count(None)} unreadable line(s) got {nulls} error(s) with a null id")
        for part, (answer, raw) in zip(physical, readings, strict=True):
            if answer is not None and answer != BLANK:
                fields = (_short(raw.get("type")), _short(raw.get("job")))
                self.lines[answer].append(Line(self.case[0], kind, _shown(part), notes, *fields))

    def note(self, event: dict) -> None:
        """Account one event that names an id."""
        request_id, kind = event["id"], event["type"]
        self.events[request_id].append(kind)
        if kind != "progress":
            self.tally[f"{kind} {event['code']}" if kind == "error" else kind] += 1
        self.expect(request_id in self.lines or request_id in self.current_ids,
                    f"an event for id {request_id!r}, which no line carried: {event}", request_id)
        if kind == "accepted":
            self.accepted.append(request_id)
            self.open.append(request_id)
        elif kind in ("result", "error", "pong"):
            self.answers[request_id] += 1
            if request_id in self.open:
                self.open.remove(request_id)

    def next_event(self) -> dict:
        """The next event, which must be a valid protocol event without the code ``internal``."""
        try:
            event = self.server.next_event()
        except (AssertionError, ValueError) as exc:  # no event in time, or a line that is no JSON
            self.fail(f"no valid event: {exc}")
        self.expect(event is not None, "the server exited")
        try:
            protocol.decode_event(json.dumps(event))
        except protocol.ProtocolError as exc:
            self.fail(f"an event the protocol does not allow ({exc.message}): {event}")
        if event["type"] == "error":
            self.expect(event["code"] != "internal", f"an internal error (a traceback): {event}",
                        event.get("id"))
        return event

    # ---------------------------------------------------------------- the end

    def finish(self) -> None:
        """Let queued jobs end (an ``unload`` queues behind them, a preview behind it), check every
        id's answers, then a ping and a clean exit."""
        self.case = (self.mutants.count + 1, "end", b"", ["the final unload, ping and shutdown"])
        end = f"{SYNC_PREFIX}end"
        self.server.send({"type": "unload", "id": end})
        while (event := self.next_event())["id"] != end or event["type"] not in ("result", "error"):
            if event["id"] is not None and event["id"] != end:
                self.note(event)
        self.expect(event["type"] == "result", f"the final unload failed: {event}")
        # A queued preview waits behind every non-preview job, the unload too: it may end after it.
        while self.open:
            event = self.next_event()
            if event["id"] is not None:
                self.note(event)
        for request_id, lines in self.lines.items():
            self.check_answers(request_id, lines)
        self.server.send({"type": "ping", "id": f"{SYNC_PREFIX}last"})
        self.expect(self.next_event() == {"type": "pong", "id": f"{SYNC_PREFIX}last"}, "no pong at the end")
        self.server.send({"type": "shutdown", "id": f"{SYNC_PREFIX}bye"})
        self.expect(self.server.next_event() is None, "an event after shutdown")
        self.expect(self.server.proc.wait(30) == 0, f"exit code {self.server.proc.returncode} after shutdown")
        self.expect("Traceback" not in self.server.log_path.read_text(errors="replace"),
                    "a traceback in the backend's log")
        print(f"protocol fuzz: {self.cases} cases, {sum(len(lines) for lines in self.lines.values())} "
              f"lines with an id; answers: {', '.join(f'{n} {k}' for k, n in sorted(self.tally.items()))}")

    def check_answers(self, request_id: str, lines: list) -> None:
        types = [line.type for line in lines]
        answered = self.answers[request_id]
        silent = len(lines) - answered
        self.expect(0 <= silent <= types.count("cancel"),
                    f"{len(lines)} line(s) with id {request_id!r} got {answered} answer(s): "
                    f"{self.events[request_id]}", request_id)
        self.expect(self.events[request_id].count("pong") <= types.count("ping"),
                    f"a pong for a line that is no ping: {self.events[request_id]}", request_id)
        if len(lines) == 1 and silent == 0:
            self.expect(ONE_ANSWER.fullmatch(" ".join(self.events[request_id])) is not None,
                        f"events out of order: {self.events[request_id]}", request_id)
        if len(lines) == 1 and silent == 1:  # a cancel that stopped (or raced) a job it named
            self.expect(lines[0].job in self.accepted,
                        "a cancel of a job that never existed went unanswered", request_id)

    # ---------------------------------------------------------------- failures

    def expect(self, condition: bool, problem: str, request_id: str | None = None) -> None:
        if not condition:
            self.fail(problem, request_id)

    def fail(self, problem: str, request_id: str | None = None) -> None:
        number, kind, shown, notes = *self.case[:2], _shown(self.case[2]), self.case[3]
        if request_id in self.lines:  # the line that carried the id, not the one being sent
            number, kind, shown, notes = self.lines[request_id][0][:4]
        raise AssertionError(
            f"protocol fuzz, seed {self.seed}: {problem}\n"
            f"case {number} of {self.cases} ({kind}; {', '.join(notes) or 'no mutation'}): {shown!r}\n"
            f"replay: ATELIER_FUZZ_SEED={self.seed} ATELIER_FUZZ_CASES={self.cases}\n"
            f"backend log:\n{self.server.log()[-2000:]}")
