"""The batch rules without Blender (``core/batch.py``): the CSV, prompts from names, seeds,
variation names and the JSON report's shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import batch, schema
from core.protocol import SEED_MAX

REPORT_SCHEMA = "batch_report.json"
TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent


def test_rows_keep_their_line_numbers_and_bad_rows_are_reported_not_run():
    text = ("object,prompt,seed,maps\n"
            "Wall,red brick,7,normal roughness\n"
            "\n"                                       # a blank line is no row
            "Floor,,,\n"                               # empty cells: the operator's values
            "Door,oak,seven,\n"                        # not a number
            "Roof,slate,-2,\n"                         # below -1
            f"Gate,iron,{SEED_MAX + 1},\n"             # above the largest seed
            ",nothing,1,\n"                            # no object
            "Fence,pine,3,sparkle\n"                   # an unknown map
            '"Shed","moss, wet",-1,none\n')
    rows, problems = batch.parse_csv(text)
    assert rows == [
        batch.Row(line=2, object="Wall", prompt="red brick", seed=7, maps=("normal", "roughness")),
        batch.Row(line=4, object="Floor"),
        batch.Row(line=10, object="Shed", prompt="moss, wet", seed=-1, maps=()),
    ]
    assert [(p.line, p.object) for p in problems] == [(5, "Door"), (6, "Roof"), (7, "Gate"), (8, ""),
                                                     (9, "Fence")]
    assert str(problems[0]) == (f"line 5 (Door): seed 'seven' is not a whole number from 0 to {SEED_MAX} "
                                "(or -1 for a random one)")
    assert "no object named" in str(problems[3]) and str(problems[3]).startswith("line 8: ")
    assert "unknown map 'sparkle'" in str(problems[4]) and "'none'" in str(problems[4])


def test_columns_may_come_in_any_order_and_case():
    rows, problems = batch.parse_csv("Seed,OBJECT\n5,Cube\n")
    assert rows == [batch.Row(line=2, object="Cube", seed=5)] and problems == []


@pytest.mark.parametrize(("text", "message"), [
    ("", "the CSV file is empty"),
    ("Cube,red\n", "line 1 of the CSV file must be a header naming its columns"),
    ("object,colour\nCube,red\n", "not 'object', 'colour'"),
    ("prompt,seed\nred,1\n", "'object' is required"),
    ("object,object\nCube,Cube\n", "names object twice"),
])
def test_a_csv_without_a_usable_header_is_refused(text, message):
    with pytest.raises(batch.BatchError, match=message):
        batch.parse_csv(text)


def test_reading_a_csv_file_says_what_is_wrong(tmp_path):
    with pytest.raises(batch.BatchError, match="there is no CSV file"):
        batch.read_csv(tmp_path / "missing.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("object,prompt\nCube,caf\xe9\n".encode("latin-1"))
    with pytest.raises(batch.BatchError, match="save it as UTF-8"):
        batch.read_csv(latin)
    excel = tmp_path / "excel.csv"  # Excel writes a byte-order mark before the header
    excel.write_bytes("object,prompt\r\nCube,café\r\n".encode("utf-8-sig"))
    assert batch.read_csv(excel) == ([batch.Row(line=2, object="Cube", prompt="café")], [])


def test_prompts_from_names_seeds_and_variation_names():
    assert batch.prompt_from_name("Old_Brick-Wall.001") == "Old Brick Wall"
    assert batch.prompt_from_name("Crate.12") == "Crate.12"  # not Blender's duplicate number
    assert [batch.variation_seed(SEED_MAX - 1, i) for i in range(3)] == [SEED_MAX - 1, SEED_MAX, 0]
    assert batch.variation_name("brick", 2, 3, 63) == "brick v2"
    assert batch.variation_name("brick", 1, 1, 63) == "brick"  # one variation: no number
    long = batch.variation_name("é" * 40, 12, 12, 63)
    assert long.endswith(" v12") and len(long.encode("utf-8")) <= 63


def _report(**changes) -> dict:
    done = batch.ItemOutcome(object="Wall", prompt="brick", maps=("normal",), variations=[
        batch.VariationOutcome(name="brick v1", seed=1, status="done", material="brick v1", image="brick v1"),
        batch.VariationOutcome(name="brick v2", seed=2, status="failed", error="out of memory")])
    done.settle()
    skipped = batch.skipped(batch.Problem("Ghost", "there is no object named 'Ghost'", 4))
    document = batch.report_document([done, skipped], source="CSV", csv_file="/x/batch.csv", model="m",
                                     started="2026-01-01T00:00:00+00:00",
                                     finished="2026-01-01T00:01:00+00:00")
    document.update(changes)
    return document


def test_the_report_document_meets_its_schema_and_counts_items():
    document = _report()
    assert schema.problems(document, schema.cached(REPORT_SCHEMA)) == []
    assert document["summary"] == {"items": 2, "done": 0, "partial": 1, "failed": 0, "cancelled": 0,
                                   "skipped": 1}
    wall, ghost = document["items"]
    assert wall["status"] == "partial" and wall["error"] == "brick v2: out of memory" and "line" not in wall
    assert ghost == {"object": "Ghost", "prompt": "", "maps": [], "status": "skipped", "line": 4,
                     "error": "there is no object named 'Ghost'", "variations": []}


@pytest.mark.parametrize("changes", [{"format": "other"}, {"summary": {"items": 1}}, {"extra": 1},
                                     {"items": [{"object": "x"}]}])
def test_the_report_schema_refuses_other_shapes(changes):
    assert schema.problems(_report(**changes), schema.cached(REPORT_SCHEMA))


def test_settle_names_the_outcome_of_every_mix():
    def item(*statuses):
        outcome = batch.ItemOutcome(object="o", variations=[
            batch.VariationOutcome(name=f"v{i}", seed=i, status=s, error="" if s == "done" else s)
            for i, s in enumerate(statuses)])
        outcome.settle()
        return outcome.status

    assert [item("done", "done"), item("done", "failed"), item("failed", "cancelled"), item("cancelled"),
            item("done", "running")] == ["done", "partial", "failed", "cancelled", "queued"]


def test_write_report_makes_the_folder_and_says_when_it_cannot(tmp_path):
    path = batch.write_report(tmp_path / "reports" / "batch.json", _report())
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == "atelier-batch-report"
    (tmp_path / "file").write_text("")
    with pytest.raises(batch.BatchError, match="cannot write the batch report"):
        batch.write_report(tmp_path / "file" / "batch.json", _report())


def test_csv_records_spreadsheets_and_bad_cells():
    text = ("object,prompt,,\n"                        # a spreadsheet's empty columns after the last
            "Wall,brick,,\n"                            # empty cells there: fine
            '"Roof","slate\non two lines",\n'          # a record over two lines: its first line
            "Door,oak,extra,\n"                         # a cell the header does not name
            "Gate,ir\x00on\n"                           # a NUL in a cell
            "Wall,again\n")                             # listed already
    rows, problems = batch.parse_csv(text)
    assert rows == [batch.Row(line=2, object="Wall", prompt="brick"),
                    batch.Row(line=3, object="Roof", prompt="slate on two lines")]
    assert [str(problem) for problem in problems] == [
        "line 5 (Door): the row has 4 cells but the header names 2 columns; quote cells that hold commas",
        "line 6 (Gate): a cell holds a control character (such as NUL); remove it",
        "line 7 (Wall): 'Wall' is already listed at line 2; keep one row per object (use variations for "
        "more textures)"]


def test_read_csv_reads_regular_files_only_and_never_past_the_limit(tmp_path, monkeypatch):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # nobody writes: reading it would wait for ever
    for path in (fifo, tmp_path, "/dev/zero"):
        with pytest.raises(batch.BatchError, match="not a regular file"):
            batch.read_csv(path)
    monkeypatch.setattr(batch, "MAX_CSV_BYTES", 20)
    big = tmp_path / "big.csv"
    big.write_text("object\n" + "Cube\n" * 10)
    with pytest.raises(batch.BatchError, match="more than 20 bytes"):
        batch.read_csv(big)


def test_report_paths_are_checked_before_and_replaced_in_one_step(tmp_path):
    assert batch.report_path_problem(tmp_path / "new" / "deeper" / "report.json") == ""
    assert "is a folder; name a file in it" in batch.report_path_problem(tmp_path)
    (tmp_path / "file").write_text("")
    assert "a file stands in its way" in batch.report_path_problem(tmp_path / "file" / "report.json")
    target = tmp_path / "report.json"
    target.write_text("an older report")
    batch.write_report(target, _report(error="refused"))
    assert json.loads(target.read_text())["error"] == "refused"
    assert sorted(os.listdir(tmp_path)) == ["file", "report.json"]  # no temporary file left


def test_a_report_folder_that_cannot_be_written_is_refused(tmp_path):
    """Checked in a process without root's power to ignore permissions, so under root (CI) too."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    check = ("import sys; from fault_backend import drop_permission_overrides; drop_permission_overrides(); "
             "from core import batch; print(batch.report_path_problem(sys.argv[1]))")
    path = os.pathsep.join(map(str, (ROOT, TESTS)))
    done = subprocess.run([sys.executable, "-c", check, str(locked / "report.json")], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": path})
    assert done.returncode == 0, done.stderr
    assert f"cannot write the batch report in {locked}" in done.stdout, done.stdout


def test_a_refused_batch_report_meets_the_schema():
    moment = "2026-01-01T00:00:00+00:00"
    document = batch.report_document([], source="SELECTED", csv_file="", model="", error="nothing selected",
                                     started=moment, finished=moment)
    assert schema.problems(document, schema.cached(REPORT_SCHEMA)) == []
    assert document["error"] == "nothing selected" and document["summary"]["items"] == 0
