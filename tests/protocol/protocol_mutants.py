"""Seeded mutants of valid protocol requests, and which id each line's answer must carry.

``Mutants(seed, folder)`` makes one line (bytes, no final newline) per case from a valid request
of every type, changed by zero to three mutations: fields dropped, added or given another JSON
type, extreme and non-finite numbers, odd Unicode, very long strings and arrays, deep nesting,
ids reused, duplicated keys, truncated text, bytes that are not JSON or not UTF-8, empty lines.
The same seed gives the same cases. ``read_line`` says, from the protocol's rules alone, which id
the one answer to a line carries: the request's id when the line can be read far enough to find
one, ``None`` (an error with a null id) when it cannot, ``BLANK`` (no answer) for an empty line.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

from core import protocol

BLANK = "blank line"  # the answer id of a line that holds only whitespace: the server skips it
SYNC_PREFIX = "sync-"  # ids of the driver's own pings; no mutant id starts with it

# Request types and how often each is the starting point. ``shutdown`` always carries an
# unknown field, so no mutant ends the server early; ``doctor`` and ``unload`` cost a model
# build or reload when they stay valid, so they are rarer. Text models are ``builtin``, which
# the backend refuses once every other check of the request has passed (generating ideas with
# even a tiny model takes seconds), and the image ``prompt_image`` paints is larger than the
# test server's size limit: both reach the task, neither runs a model.
WEIGHTS = {"ping": 8, "texture": 16, "texture_preview": 6, "palette_harmony": 8, "palette_image": 8,
           "palette_prompt": 6, "palette_prompt_image": 4, "ideas": 10, "maps": 4, "refine": 4,
           "inpaint": 4, "upscale": 3,
           "models": 2, "download": 2, "delete_model": 2, "doctor": 1, "cancel": 10, "unload": 1,
           "shutdown": 3, "not_an_object": 4}
TYPES = [t for t in protocol.REQUEST_TYPES if t != "shutdown"]  # a type swap never makes a shutdown

# Text for any field. No entry is absolute or "~" alone: a valid job must not write outside the
# test's folder (a home folder of an unknown user, "~nobody-atelier", is refused).
ODD_TEXT = ["", " ", "\0", "\t\n", "\x1b[31m", "é", "e\u0301", "\u202eevil", "\U0001F9F1 brick",
            "\ufeff", "\u2028", "\uffff", "\ud800", "x\udfffy", "../../..", "~nobody-atelier/x",
            "%s%n", "{}", "null", "NaN", "\\", '"', "<b>", "a" * 64, "a" * 65, "#12345g",
            "#ffffff", "cuda:99", "mps", "cpu", "triadic", "xy", "image", "prompt"]
ODD_NUMBERS = [0, -1, 1, 7, 63, 64, 65, 2**31 - 1, 2**31, -(2**31), 2**53 + 1, 2**63, 2**64, 10**30,
               -(10**30), 10**300, 10**400, 0.5, -0.0, 1e-320, 1e308, -1e308, 3.0, 10**4000]
# Raw number text json.dumps would never write: overflow to infinity, NaN words, too many digits
# for Python's int parser, and forms JSON does not allow.
RAW_NUMBERS = ["1e999", "-1e999", "1E400", "NaN", "Infinity", "-Infinity", "9" * 5000, "0x10", "01",
               "+1", "1.", ".5", "1e", "-"]
WRONG_TYPES = [None, True, False, 0, -1, 1.5, "", "x", [], {}, [1, 2], {"a": 1}, ["#336699"]]
BAD_BYTES = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
             b"\x00", b"\x1f", b"\r", b"\n", b"\xef\xbb\xbf", b"\x80"]
NOT_OBJECTS = ["[]", "[1, 2]", "3", '"ping"', "null", "true", '{"type": "ping", "id": "x"} [1]',
               "{", "}", "{}", '{"type": "ping"}{"type": "ping"}', "\x00", "ping"]


class Mutants:
    """The cases of one seed; ``next(recent_ids, open_ids)`` returns ``(kind, line, notes)``."""

    def __init__(self, seed: int, folder: Path) -> None:
        self.rng = random.Random(seed)
        self.folder = folder
        self.image = _palette_image(folder / "source.png")
        self.picture = _texture_picture(folder / "picture.png")
        self.count = 0
        self._raw: dict[str, str] = {}  # placeholder -> raw JSON text spliced in after encoding

    def next(self, recent_ids: list[str], open_ids: list[str]) -> tuple[str, bytes, list[str]]:
        """One more case: its starting type, its line and the mutations it went through."""
        rng = self.rng
        self.count += 1
        self._raw = {}
        kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        if kind == "not_an_object":
            return kind, rng.choice(NOT_OBJECTS).encode("utf-8"), ["not an object"]
        request = self._valid(kind, f"c{self.count}", recent_ids, open_ids)
        notes = []
        for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
            notes.append(self._mutate_fields(request, recent_ids, kind))
        line = self._encode(request)
        if rng.random() < 0.15:
            line, note = self._mutate_bytes(line)
            notes.append(note)
        return kind, line, notes

    # ---------------------------------------------------------------- valid requests

    def _valid(self, kind: str, request_id: str, recent_ids: list[str], open_ids: list[str]) -> dict:
        out = str(self.folder / "out")
        tiny = {"model": "builtin"}
        if kind == "cancel":
            return {"type": "cancel", "id": request_id, "job": self._cancel_target(recent_ids, open_ids)}
        bases = {
            "ping": {"type": "ping"},
            "texture": {"type": "texture", "prompt": "red brick", "output_dir": out, "width": 64,
                        "height": 64, "steps": 1, "seed": 1, "seamless": "xy", "early_pixels": True},
            "texture_preview": {"type": "texture", "prompt": "red brick", "output_dir": out, "width": 64,
                                "height": 64, "steps": 1, "seed": 1, "preview": True,
                                "tiny_autoencoder": True, "early_pixels": True},
            "palette_harmony": {"type": "palette", "source": "harmony", "harmony": "triadic",
                                "base_color": "#336699", "count": 4},
            "palette_image": {"type": "palette", "source": "image", "image": str(self.image), "count": 4},
            "palette_prompt": {"type": "palette", "source": "prompt", "prompt": "sea", **tiny},
            "palette_prompt_image": {"type": "palette", "source": "prompt_image", "prompt": "sea",
                                     "output_dir": out},
            "ideas": {"type": "ideas", "prompt": "a quiet harbour", "count": 2, **tiny,
                      "context": {"selected": [{"name": "Cube", "dimensions": [1, 2, 3]}],
                                  "palette": ["#336699"]}},
            "maps": {"type": "maps", "image": str(self.picture), "maps": ["normal", "height"],
                     "model": "classic", "output_dir": out, "seamless": "xy"},
            "refine": {"type": "refine", "image": str(self.picture), "prompt": "moss", "output_dir": out,
                       "strength": 0.5, "steps": 2, "seed": 1},
            "inpaint": {"type": "inpaint", "image": str(self.picture), "prompt": "moss", "output_dir": out,
                        "seam_fix": True, "steps": 2, "seed": 1},
            "upscale": {"type": "upscale", "image": str(self.picture), "factor": 2, "output_dir": out,
                        "steps": 2, "seed": 1, "seamless": "xy"},
            # Downloads are off in the test server: a download is refused, a delete finds no record.
            "models": {"type": "models"},
            "download": {"type": "download", "model": "atelier-test/none", "accept_licence": True},
            "delete_model": {"type": "delete_model", "model": "atelier-test/none", "revision": "0" * 40},
            "doctor": {"type": "doctor", "device": "cpu"},
            "unload": {"type": "unload"},
            "shutdown": {"type": "shutdown", "now": True},
        }
        return {**bases[kind], "id": request_id}

    def _cancel_target(self, recent_ids: list[str], open_ids: list[str]) -> str:
        rng = self.rng
        if open_ids and rng.random() < 0.8:
            return open_ids[0] if rng.random() < 0.3 else rng.choice(open_ids)  # the first one runs
        return rng.choice(recent_ids) if recent_ids and rng.random() < 0.7 else "no-such-job"

    # ---------------------------------------------------------------- mutations

    def _mutate_fields(self, request: dict, recent_ids: list[str], kind: str) -> str:
        rng = self.rng
        names = [n for n in request if not (kind == "shutdown" and n == "now")] or ["id"]
        # Now and then a place inside a nested value (an idea's context), else a top-level field.
        inner = list(_inner_places(request)) if rng.random() < 0.3 else []
        place, name = rng.choice(inner) if inner else (request, rng.choice(names))
        how = rng.choice(["drop", "add", "wrong_type", "number", "raw_number", "text", "long_text",
                          "nested", "wide", "deep_nesting", "id", "type", "path", "duplicate_key"])
        # An odd number often replaces a number inside a nested value (an idea's object sizes):
        # the task reads those itself, past the request's own checks.
        numbers = [(c, k) for c, k in _inner_places(request) if _is_number(c[k])]
        if how == "number" and numbers and rng.random() < 0.7:
            place, name = rng.choice(numbers)
        if how == "drop" and isinstance(place, dict):
            place.pop(name, None)
        elif how == "drop":
            del place[name]
        elif how == "add" and isinstance(place, list):
            place.append(self._any_value())
        elif how == "add":
            name = rng.choice(["extra", "prompt", "job", "width", "context", "__proto__", "é", "", "\udc80"])
            place[name] = self._any_value()
        elif how == "wrong_type":
            place[name] = self._wrong_type()
        elif how == "number":
            place[name] = rng.choice(ODD_NUMBERS + [float("nan"), float("inf"), float("-inf")])
        elif how == "raw_number":
            place[name] = self._raw_text(rng.choice(RAW_NUMBERS))
        elif how == "text":
            place[name] = self._odd_text()
        elif how == "long_text":
            size = rng.choice([1000, 70_000, 500_000])
            place[name] = rng.choice(["x", "é", "\U0001F9F1", "ab "]) * size
        elif how == "nested":
            place[name] = _nested(rng.randint(1, 40), rng.random() < 0.5)
        elif how == "wide":
            place[name] = [rng.choice([0, -1.5, "x", None, True])] * rng.choice([100, 10_000, 100_000])
        elif how == "deep_nesting":  # far past the parser's own limit, as raw text
            depth = rng.choice([5_000, 100_000])
            place[name] = self._raw_text("[" * depth + "]" * depth if rng.random() < 0.5
                                         else '{"a":' * depth + "1" + "}" * depth)
        elif how == "id":
            name = "id"
            request["id"] = self._odd_id(request.get("id", ""), recent_ids, kind)
        elif how == "type":
            name = "type"
            request["type"] = rng.choice(TYPES + ["Ping", "texture ", "", None, 7, ["ping"]])
        elif how == "path":
            name = rng.choice(["output_dir", "image", "model"])
            request[name] = self._odd_path()
        else:  # the same key twice: JSON readers keep the last
            name = rng.choice(names)
            again = json.dumps(self._any_value()) if name != "type" else '"ping"'
            request[name] = self._raw_text(f"{json.dumps(request.get(name))}, {json.dumps(name)}: {again}")
        return f"{how} {name!r}"

    def _odd_id(self, current: object, recent_ids: list[str], kind: str) -> object:
        rng, current = self.rng, str(current)
        choice = rng.choice(["reuse", "unicode", "long", "empty", "wrong_type", "surrogate"])
        if choice == "reuse" and recent_ids and kind != "cancel":  # a cancel's answer must stay its own
            return rng.choice(recent_ids[-20:])
        if choice == "unicode":
            return current + rng.choice(["é", "\U0001F9F1", "\u202e", " ", "/..", "\0", "\n"])
        if choice == "long":
            return current + "x" * rng.choice([50, 60, 63, 64, 65, 300, 100_000])
        if choice == "empty":
            return ""
        if choice == "surrogate":
            return current + "\udc80"
        return rng.choice([self._wrong_type(), 12345])

    def _odd_path(self) -> str:
        rng = self.rng
        name = rng.choice(["é", "a" * 300, "a/" * 2100, "\0x", "..", "source.png/x", "missing.png", "~x",
                           "\U0001F9F1.png", "out", "source.png"])
        return rng.choice([str(self.folder / name), name, f"~nobody-atelier/{name}"])

    def _odd_text(self) -> str:
        rng = self.rng
        return "".join(rng.choice(ODD_TEXT) for _ in range(rng.randint(1, 4)))

    def _any_value(self) -> object:
        rng = self.rng
        pick = rng.random()
        if pick < 0.3:
            return self._wrong_type()
        if pick < 0.5:
            return rng.choice(ODD_NUMBERS)
        if pick < 0.8:
            return self._odd_text()
        return _nested(rng.randint(1, 40), rng.random() < 0.5)

    def _wrong_type(self) -> object:
        """A value of some JSON type, a fresh copy: a later mutation may change it in place."""
        return copy.deepcopy(self.rng.choice(WRONG_TYPES))

    def _raw_text(self, text: str) -> str:
        marker = f"@@raw{len(self._raw)}@@"
        self._raw[marker] = text
        return marker

    def _mutate_bytes(self, line: bytes) -> tuple[bytes, str]:
        rng = self.rng
        how = rng.choice(["truncate", "insert", "replace", "blank", "prefix", "suffix", "huge"])
        at = rng.randint(0, len(line))
        if how == "truncate":
            return line[:at], f"truncated at {at}"
        if how == "insert":
            return line[:at] + rng.choice(BAD_BYTES) + line[at:], f"bytes inserted at {at}"
        if how == "replace":
            return bytes(rng.randrange(256) for _ in range(rng.randint(1, 200))), "random bytes"
        if how == "blank":
            return rng.choice([b"", b" ", b"\t", b"\r", b"  \r"]), "blank line"
        if how == "prefix":
            return rng.choice(BAD_BYTES + [b" ", b"\x1c"]) + line, "bytes before"
        if how == "suffix":
            return line + rng.choice(BAD_BYTES + [b" x", b",", b"}"]), "bytes after"
        padding = b"x" * (protocol.MAX_LINE_BYTES + 10)
        return line[:-1] + b', "pad": "' + padding + b'"}', "over the line limit"

    def _encode(self, request: dict) -> bytes:
        text = json.dumps(request, ensure_ascii=self.rng.random() < 0.5)
        for marker, raw in reversed(self._raw.items()):  # a later one may hold an earlier one
            text = text.replace(json.dumps(marker), raw)
        return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes bytes no UTF-8 reader takes


def read_line(line: bytes) -> tuple[str | None, dict | None]:
    """How the protocol reads ``line`` (``PROTOCOL.md``): the id its one answer carries, and the
    object it holds (None when it holds none). The id is the line's ``id`` when the line is a
    UTF-8 JSON object whose ``id`` is 1 to ``MAX_ID_CHARS`` characters of Unicode text; ``None``
    when the line cannot be read that far; ``BLANK`` when the line holds only whitespace."""
    if len(line) > protocol.MAX_LINE_BYTES:
        return None, None
    try:
        text = line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None, None
    if not text:
        return BLANK, None
    try:
        raw = json.loads(text, parse_constant=_refuse)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(raw, dict):
        return None, None
    found = raw.get("id")
    if not isinstance(found, str) or not 0 < len(found) <= protocol.MAX_ID_CHARS:
        return None, raw
    try:
        found.encode("utf-8")
    except UnicodeEncodeError:
        return None, raw
    return found, raw


def _refuse(name: str):
    raise ValueError(name)


def _inner_places(value: object):
    """(container, key) of every value inside the request's objects and arrays."""
    children = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        if isinstance(child, dict):
            yield from ((child, key) for key in child)
        elif isinstance(child, list):
            yield from ((child, index) for index in range(len(child)))
        yield from _inner_places(child)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _nested(depth: int, objects: bool) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value} if objects else [value]
    return value


def _texture_picture(path: Path) -> Path:
    """A 64 x 64 RGB picture (the smallest size an edit takes) for refine, inpaint and upscale."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 64), (120, 90, 60)).save(path)
    return path


def _palette_image(path: Path) -> Path:
    """A small four-colour PNG for palette requests."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (32, 32), (30, 60, 140))
    for index, colour in enumerate([(230, 180, 40), (200, 40, 60), (20, 20, 20)]):
        image.paste(colour, (index * 8, 0, index * 8 + 8, 16))
    image.save(path)
    return path
