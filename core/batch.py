"""The batch queue's rules, with no Blender in them: the CSV a batch reads, the prompt an object
name gives, the seed of each variation, variation names and the JSON report for pipelines.

A batch CSV starts with a header naming its columns: ``object`` (required), ``prompt``,
``seed`` and ``maps`` (optional, in any order). An empty cell means "what the operator says"
(its prompt rule, its seed, its maps). ``maps`` lists map roles separated by spaces, commas,
semicolons or ``|``; ``none`` asks for no maps. A row that cannot be used (a bad seed, an
unknown map, no object, more cells than the header names, a control character, an object
already listed) is reported with the line it starts on and the other rows run. Empty columns
after the last named one (what spreadsheets often save) are ignored.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .pbr import MapError, check_map_names
from .protocol import SEED_MAX

COLUMNS = ("object", "prompt", "seed", "maps")
MAX_CSV_BYTES = 5_000_000  # a batch of many thousands of rows; more is not a texture list
MAX_ROWS = 10_000
MAX_JOBS = 10_000  # items x variations of one batch: each job is a request and a folder
NO_MAPS = "none"
REPORT_FORMAT = "atelier-batch-report"
REPORT_VERSION = 1
# An item's state: waiting for its jobs, then how it ended.
STATUSES = ("queued", "running", "done", "partial", "failed", "cancelled", "skipped")
_MAP_SEPARATORS = re.compile(r"[\s,;|]+")
_BLENDER_DUPLICATE = re.compile(r"\.\d{3}$")  # 'Brick.001': the number Blender adds to a copy
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # no object name or prompt holds one


_VISIBLE = {code: "?" for code in [*range(0x20), 0x7F]}  # how a name with control characters is shown


class BatchError(ValueError):
    """The batch cannot start at all (an unreadable CSV, no header); the message says the fix."""


@dataclass(frozen=True)
class Row:
    """One usable CSV row; ``None`` (prompt '') means the operator's value."""

    line: int
    object: str
    prompt: str = ""
    seed: int | None = None
    maps: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Problem:
    """An object or a row the batch skips, and why (``line`` 0: not from a CSV)."""

    object: str
    message: str
    line: int = 0

    def __str__(self) -> str:
        if not self.line:
            return f"{self.object}: {self.message}"
        named = f" ({self.object})" if self.object else ""
        return f"line {self.line}{named}: {self.message}"


# --------------------------------------------------------------------------- the CSV


def read_csv(path: str | Path) -> tuple[list[Row], list[Problem]]:
    """The rows of the CSV file at ``path`` and the rows it skips; ``BatchError`` when the file
    cannot be read or has no usable header."""
    path = Path(path)
    try:
        # Opened first, then checked: a FIFO, a device or a folder is refused without reading it,
        # and no more than the limit is ever read, whatever the file's size says.
        with open(path, "rb", opener=_open_nonblocking) as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise BatchError(f"{path} is not a regular file; choose a CSV file")
            data = file.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            raise BatchError(f"{path} has more than {MAX_CSV_BYTES} bytes, more than a batch CSV may "
                             "have; split it into smaller files")
        text = data.decode("utf-8-sig")
    except FileNotFoundError:
        raise BatchError(f"there is no CSV file {path}; check the file path") from None
    except IsADirectoryError:
        raise BatchError(f"{path} is a folder, not a regular file; choose a CSV file") from None
    except OSError as exc:
        raise BatchError(f"cannot read the CSV file {path}: {exc.strerror or exc}; check the file "
                         "and its permissions") from None
    except UnicodeDecodeError as exc:
        raise BatchError(f"cannot read the CSV file {path}: {exc}; save it as UTF-8 text") from None
    return parse_csv(text)


def _open_nonblocking(path: str, flags: int) -> int:
    """Open without waiting for a writer: a FIFO must not block the batch before it is refused."""
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def parse_csv(text: str) -> tuple[list[Row], list[Problem]]:
    """The usable rows of a batch CSV and a ``Problem`` for each row that is not (by line)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)  # blank lines before the header
        if header is None:
            raise BatchError("the CSV file is empty; its first line must name the columns: "
                             + ", ".join(COLUMNS))
        columns = _columns(header, reader.line_num)
        rows, problems = [], []
        listed: dict[str, int] = {}  # object name -> the line of its first row
        line = reader.line_num + 1  # where the next record starts (a quoted cell may span lines)
        for cells in reader:
            first, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) + len(problems) >= MAX_ROWS:
                raise BatchError(f"the CSV file has more than {MAX_ROWS} rows; split it into smaller files")
            row = _row(columns, cells, first)
            if isinstance(row, Row) and row.object in listed:
                row = Problem(row.object, f"{row.object!r} is already listed at line {listed[row.object]}; "
                                          "keep one row per object (use variations for more textures)", first)
            elif isinstance(row, Row):
                listed[row.object] = first
            (problems if isinstance(row, Problem) else rows).append(row)
    except csv.Error as exc:
        raise BatchError(f"the CSV file cannot be read at line {reader.line_num}: {exc}") from None
    return rows, problems


def _columns(header: list[str], line: int) -> list[str]:
    names = [cell.strip().lower() for cell in header]
    while names and not names[-1]:
        names.pop()  # empty columns after the last named one: a spreadsheet's trailing commas
    unknown = [name for name in names if name not in COLUMNS]
    if "object" not in names or unknown:
        found = ", ".join(repr(cell.strip()) for cell in header)
        raise BatchError(f"line {line} of the CSV file must be a header naming its columns "
                         f"({', '.join(COLUMNS)}; 'object' is required), not {found}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BatchError(f"the CSV header names {', '.join(repeated)} twice; keep one of each column")
    return names


def _row(columns: list[str], values: list[str], line: int) -> Row | Problem:
    cells = dict(zip(columns, values, strict=False))
    name = cells.get("object", "").strip()
    if any(value.strip() for value in values[len(columns):]):
        return Problem(name, f"the row has {len(values)} cells but the header names {len(columns)} "
                             "columns; quote cells that hold commas", line)
    if any(_CONTROL.search(value) for value in values):
        return Problem(name.translate(_VISIBLE), "a cell holds a control character (such as NUL); "
                                                 "remove it", line)
    if not name:
        return Problem("", "no object named; put an object's name in the 'object' column", line)
    try:
        seed = parse_seed(cells.get("seed", ""))
        maps = parse_maps(cells.get("maps", ""))
    except ValueError as exc:
        return Problem(name, str(exc), line)
    return Row(line=line, object=name, prompt=" ".join(cells.get("prompt", "").split()), seed=seed, maps=maps)


def parse_seed(text: str) -> int | None:
    """A seed cell: None when empty (the operator's seed), else 0..SEED_MAX or -1 (random);
    ``ValueError`` saying what a seed must be."""
    text = text.strip()
    if not text:
        return None
    if not re.fullmatch(r"-?\d{1,12}", text) or not -1 <= int(text) <= SEED_MAX:
        raise ValueError(f"seed {text[:20]!r} is not a whole number from 0 to {SEED_MAX} "
                         "(or -1 for a random one)")
    return int(text)


def parse_maps(text: str) -> tuple[str, ...] | None:
    """A maps cell: None when empty (the operator's maps), () for 'none', else the roles;
    ``ValueError`` naming an unknown map."""
    names = [name for name in _MAP_SEPARATORS.split(text.strip()) if name]
    if not names:
        return None
    if [name.lower() for name in names] == [NO_MAPS]:
        return ()
    try:
        return check_map_names(names)
    except MapError as exc:
        raise ValueError(f"{exc}, or '{NO_MAPS}'") from None


# --------------------------------------------------------------------------- prompts, seeds, names


def prompt_from_name(name: str) -> str:
    """The prompt an object's name gives: 'Old_Brick-Wall.001' -> 'Old Brick Wall'."""
    return " ".join(re.sub(r"[_\-]+", " ", _BLENDER_DUPLICATE.sub("", name)).split())


def variation_seed(seed: int, index: int) -> int:
    """Variation ``index`` (0 = the first) of an item with ``seed``: the next seeds, wrapping."""
    return (seed + index) % (SEED_MAX + 1)


def variation_name(name: str, number: int, count: int, max_bytes: int) -> str:
    """'<name> v<number>' when an item has ``count`` > 1 variations (``name`` alone for one),
    with ``name`` cut so the whole stays within ``max_bytes`` bytes of UTF-8."""
    if count <= 1:
        return name
    suffix = f" v{number}"
    room = max_bytes - len(suffix.encode("utf-8"))
    return name.encode("utf-8")[:room].decode("utf-8", errors="ignore").rstrip() + suffix


# --------------------------------------------------------------------------- the report


@dataclass
class VariationOutcome:
    """One job of an item: its seed and what came of it."""

    name: str
    seed: int
    status: str = "queued"
    material: str = ""
    image: str = ""
    error: str = ""


@dataclass
class ItemOutcome:
    """One object (or CSV row) of a batch and how it went (``line`` 0: not from a CSV)."""

    object: str
    prompt: str = ""
    maps: tuple[str, ...] = ()
    line: int = 0
    status: str = "queued"
    error: str = ""
    variations: list[VariationOutcome] = field(default_factory=list)

    def settle(self) -> None:
        """The item's status from its variations' once none is waiting any more."""
        ended = [v.status for v in self.variations]
        if not ended or any(status in ("queued", "running") for status in ended):
            return
        if all(status == "done" for status in ended):
            self.status = "done"
        elif "done" in ended:
            self.status = "partial"
        elif all(status == "cancelled" for status in ended):
            self.status = "cancelled"
        else:
            self.status = "failed"
        if self.status != "done" and not self.error:  # a variation is named when there are several
            self.error = "; ".join(f"{v.name}: {v.error}" if len(self.variations) > 1 else v.error
                                   for v in self.variations if v.error)

    def label(self) -> str:
        return f"line {self.line} ({self.object})" if self.line else self.object


def skipped(problem: Problem) -> ItemOutcome:
    """The outcome of an object or row that never ran."""
    return ItemOutcome(object=problem.object, line=problem.line, status="skipped", error=problem.message)


def summary(items: list[ItemOutcome]) -> dict[str, int]:
    counts = {"items": len(items)}
    for status in ("done", "partial", "failed", "cancelled", "skipped"):
        counts[status] = sum(1 for item in items if item.status == status)
    return counts


def report_document(items: list[ItemOutcome], *, source: str, csv_file: str, model: str,
                    started: str, finished: str, error: str = "") -> dict:
    """The JSON report (``schemas/batch_report.json``): the batch, its counts and every item;
    ``error`` says why a batch that was refused ran nothing."""
    document = {
        "format": REPORT_FORMAT, "version": REPORT_VERSION, "source": source, "csv": csv_file,
        "model": model, "started": started, "finished": finished, "summary": summary(items),
        "items": [_item_document(item) for item in items],
    }
    if error:
        document["error"] = error
    return document


def _item_document(item: ItemOutcome) -> dict:
    document = {"object": item.object, "prompt": item.prompt, "maps": list(item.maps),
                "status": item.status, "error": item.error,
                "variations": [vars(variation).copy() for variation in item.variations]}
    if item.line:
        document["line"] = item.line
    return document


def report_path_problem(path: str | Path) -> str:
    """Why the report cannot be written to ``path`` ('' when it can), checked before a batch
    starts: a folder, or a parent that is a file or cannot be written. An existing file is
    replaced."""
    path = Path(path)
    if path.is_dir():
        return f"the report path {path} is a folder; name a file in it, e.g. {path / 'batch_report.json'}"
    parent = next((folder for folder in [path.parent, *path.parent.parents] if folder.exists()), None)
    if parent is None or not parent.is_dir():
        return f"the report path {path} is not in a folder (a file stands in its way); choose another path"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot write the batch report in {parent}; choose a folder you can write to"
    return ""


def write_report(path: str | Path, document: dict) -> Path:
    """Write ``document`` as JSON to ``path`` (its folder is made, a file there is replaced) in
    one step: a reader never sees half a report. ``BatchError`` saying why not."""
    path = Path(path)
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise BatchError(f"cannot write the batch report {path}: {exc.strerror or exc}; "
                         "choose a folder you can write to") from None
    return path
