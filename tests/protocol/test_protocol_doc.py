"""PROTOCOL.md documents exactly the messages, fields, JSON types and error codes of protocol.py."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path

import pytest

from core import protocol

DOC = Path(protocol.__file__).with_name("PROTOCOL.md").read_text(encoding="utf-8")
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object",
               list: "array"}


def section(title: str) -> list[list[str]]:
    """The body rows of the table under ``## title``, as lists of cells."""
    body = DOC.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in body.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row] for row in rows[2:]]  # header and --- line


def documented_fields(title: str) -> dict[str, dict[str, str]]:
    """{message type: {field: JSON type cell}} from a message table."""
    found: dict[str, dict[str, str]] = {}
    kind = None
    for cells in section(title):
        kind = cells[0].strip("`") or kind
        names = re.findall(r"`(\w+)`", cells[1])
        # Several fields in one row share one type, or list one type each ("string, boolean").
        kinds = cells[2].split(", ") if len(names) > 1 and ", " in cells[2] else [cells[2]] * len(names)
        assert len(kinds) == len(names), cells
        for name, json_type in zip(names, kinds, strict=True):
            assert name not in found.setdefault(kind, {}), f"{kind}.{name} documented twice"
            found[kind][name] = json_type
    return found


def json_type(hint) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return f"{_JSON_TYPES[inner]} or null"
    return _JSON_TYPES[hint]


@pytest.mark.parametrize("title, registry", [("Requests (client → backend)", protocol.REQUEST_TYPES),
                                             ("Events (backend → client)", protocol.EVENT_TYPES)])
def test_every_message_field_and_type_is_documented(title, registry):
    documented = documented_fields(title)
    assert sorted(documented) == sorted(registry)
    for kind, cls in registry.items():
        hints = typing.get_type_hints(cls)
        fields = {f.name: json_type(hints[f.name]) for f in dataclasses.fields(cls)}
        assert sorted(documented[kind]) == sorted(fields), kind
        for name, expected in fields.items():
            cell = documented[kind][name]
            assert cell == expected or cell.startswith(expected + " of"), (kind, name, cell, expected)


def test_result_files_are_documented_with_their_fields():
    files = next(cells for cells in section("Events (backend → client)") if cells[1] == "`files`")
    names = re.findall(r"\w+", files[2].split("`")[1])
    assert names == [f.name for f in dataclasses.fields(protocol.ResultFile)]
    assert re.findall(r"`(\w+)`", files[3].split(";")[0]) == ["role", *protocol.FILE_ROLES]


def test_error_codes_are_exactly_the_protocol_list():
    assert [cells[0].strip("`") for cells in section("Error codes")] == list(protocol.ERROR_CODES)
