"""The JSON-Schema subset Atelier's documents use: parse, validate, sanitise, report.

Standard library only, so Blender's Python can re-check documents read from a .blend (which
may come from anyone) without compiled packages. The validator covers the keywords Atelier's
schema files use and refuses a schema that uses anything else, so nothing is silently
unchecked. Every problem is a plain sentence naming the field (``objects[3].location[0]``) and
the fix, because the backend quotes these sentences back to a model when it retries.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
# A model answer or a stored document larger than this is refused before parsing: five ideas
# at the schema's limits (every character escaped, about 75 kB each) stay below it, and it keeps
# hostile input from costing memory.
MAX_JSON_CHARS = 1_000_000
# Listing every problem of a hostile document helps nobody; the first few say what to fix.
MAX_REPORTED_PROBLEMS = 12
# Levels of objects and arrays a checked value may have. A document of ideas needs 6
# ({"ideas": [{"objects": [{"location": [...]}]}]}); a stored value far deeper is hostile, and
# copying it would exhaust Python's recursion limit before the schema is even looked at.
MAX_NESTING = 16
# Whole numbers longer than this are read as floating point, as a double holds them (beyond a
# double's range: infinity, which the validator refuses). No Atelier field needs more digits,
# and Python would otherwise keep a 400-digit number exactly and fail later when it becomes a
# float, or refuse a 5000-digit one with advice about interpreter settings.
MAX_INT_DIGITS = 18

# The keywords this validator understands. Annotations are ignored; anything else in the schema
# would be silently unchecked, so it is refused instead.
_ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "$defs"}
_KEYWORDS = {
    "type", "const", "enum", "properties", "required", "additionalProperties", "items",
    "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "$ref",
}
class SchemaError(ValueError):
    """The schema uses a keyword this validator does not implement."""


class DocumentError(ValueError):
    """A JSON document (a scene idea, a palette, a stored record) was refused; ``problems``
    says what to change, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@functools.lru_cache(maxsize=8)
def cached(name: str) -> dict:
    """The schema file ``schemas/<name>``, checked, shared between callers: read it, never change it."""
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    check_supported(schema)
    return schema


def load(name: str) -> dict:
    """The schema file ``schemas/<name>``, checked (a fresh copy: callers may change it)."""
    return copy.deepcopy(cached(name))


def check_supported(schema: Any, where: str = "#") -> None:
    """Raise ``SchemaError`` when ``schema`` uses a keyword this validator does not check."""
    if not isinstance(schema, dict):
        return
    unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
    if unknown:
        raise SchemaError(f"{where} uses unsupported keyword(s) {sorted(unknown)}")
    for name, sub in schema.get("properties", {}).items():
        check_supported(sub, f"{where}/properties/{name}")
    for name, sub in schema.get("$defs", {}).items():
        check_supported(sub, f"{where}/$defs/{name}")
    check_supported(schema.get("items"), f"{where}/items")



# --------------------------------------------------------------------------- parsing


def parse_json(text: str) -> Any:
    """Parse model output or stored text (a .blend's, a backend's): the one way Atelier reads
    JSON it did not write itself.

    Oversize text, NaN and Infinity, and nesting deeper than ``MAX_NESTING`` are refused with a
    ``DocumentError`` (never a ``RecursionError``); whole numbers of more than ``MAX_INT_DIGITS``
    digits are read as floats (see there), so every number is one a double can hold or
    infinity."""
    if not isinstance(text, str):
        raise DocumentError([f"expected JSON text, got {type(text).__name__}"])
    if len(text) > MAX_JSON_CHARS:
        raise DocumentError([f"the JSON text is {len(text)} characters; at most {MAX_JSON_CHARS} are read"])
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int)
    except RecursionError:
        raise DocumentError(["the JSON text is nested too deeply"]) from None
    except ValueError as exc:
        raise DocumentError([f"not valid JSON: {exc}"]) from None
    check_nesting(value)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; use a finite number")


def _bounded_int(digits: str) -> int | float:
    return int(digits) if len(digits.lstrip("-")) <= MAX_INT_DIGITS else float(digits)


def fits_double(value: int | float) -> bool:
    """True for a finite number a double can hold (False for NaN, infinity and, say, a whole
    number of 400 digits, whose conversion to float would raise ``OverflowError``)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return -sys.float_info.max <= value <= sys.float_info.max  # exact: Python compares int and float exactly


# --------------------------------------------------------------------------- validation


def problems(value: Any, schema: dict) -> list[str]:
    """Every way ``value`` breaks ``schema``; empty when valid."""
    check_supported(schema)
    found: list[str] = []
    _validate(value, schema, schema, "", found)
    return capped(found)


def capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_REPORTED_PROBLEMS:
        return problems
    extra = len(problems) - MAX_REPORTED_PROBLEMS
    return problems[:MAX_REPORTED_PROBLEMS] + [f"... and {extra} more problem(s)"]


def _resolve(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise SchemaError(f"only local references '#/$defs/...' are supported, got {ref!r}")
        target = root["$defs"][ref[len("#/$defs/"):]]
        # Sibling keywords of $ref (2020-12 allows them) apply together with the target.
        merged = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **merged}
    return schema


def _label(path: str) -> str:
    return path or "the document"


_TYPE_NAMES = {"object": "an object", "array": "an array", "string": "a string",
               "number": "a number", "integer": "a whole number", "boolean": "true or false",
               "null": "null"}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    raise SchemaError(f"unknown type {kind!r}")


def short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _validate(value: Any, schema: dict, root: dict, path: str, problems: list[str]) -> None:
    schema = _resolve(schema, root)
    where = _label(path)
    kind = schema.get("type")
    if kind is not None and not _is_type(value, kind):
        problems.append(f"{where} must be {_TYPE_NAMES[kind]}, got {short(value)}")
        return
    if "const" in schema and not _same(value, schema["const"]):
        problems.append(f"{where} must be {json.dumps(schema['const'])}, got {short(value)}")
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        options = ", ".join(json.dumps(option) for option in schema["enum"])
        problems.append(f"{where} must be one of {options}, got {short(value)}")
    if isinstance(value, dict):
        _validate_object(value, schema, root, path, problems)
    elif isinstance(value, list):
        _validate_array(value, schema, root, path, problems)
    elif isinstance(value, str):
        _validate_string(value, schema, where, problems)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _validate_number(value, schema, where, problems)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1."""
    if _is_type(a, "number") and _is_type(b, "number"):
        return a == b
    return type(a) is type(b) and a == b


def _validate_object(value: dict, schema: dict, root: dict, path: str, problems: list[str]) -> None:
    where = _label(path)
    properties = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            problems.append(f"{where} is missing {name!r}")
    if schema.get("additionalProperties", True) is False:
        unknown = sorted(set(value) - set(properties))
        if unknown:
            shown = ", ".join(repr(name[:30]) for name in unknown[:5])
            problems.append(f"{where} has unknown field(s) {shown}; allowed: {', '.join(properties)}")
    for name, sub in properties.items():
        if name in value:
            _validate(value[name], sub, root, f"{path}.{name}" if path else name, problems)


def _validate_array(value: list, schema: dict, root: dict, path: str, problems: list[str]) -> None:
    where = _label(path)
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        # Do not look inside: 10,000 items would only repeat what this sentence says.
        problems.append(f"{where} has {len(value)} items; at most {schema['maxItems']} are allowed")
        return
    if "minItems" in schema and len(value) < schema["minItems"]:
        problems.append(f"{where} has {len(value)} items; at least {schema['minItems']} are needed")
    if "items" in schema:
        for index, item in enumerate(value):
            _validate(item, schema["items"], root, f"{path}[{index}]", problems)


def _validate_string(value: str, schema: dict, where: str, problems: list[str]) -> None:
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        problems.append(f"{where} has {len(value)} characters; at most {schema['maxLength']} are allowed")
    if "minLength" in schema and len(value) < schema["minLength"]:
        problems.append(f"{where} must have at least {schema['minLength']} character(s)")
    pattern = schema.get("pattern")
    if pattern is None or _pattern(pattern).search(value):
        return
    if not _is_char_class(pattern):
        problems.append(f"{where} {short(value)} must match {pattern}")
        return
    allowed = _allowed_char(pattern)
    bad = next((char for char in value if not allowed.fullmatch(char)), None)
    if bad is not None:
        problems.append(f"{where} {short(value)} holds U+{ord(bad):04X}, which is not allowed "
                        f"(no control or direction characters, quotes or backslashes; "
                        f"titles and names also no / : * ? < > |)")
    elif not any(problem.startswith(f"{where} ") for problem in problems):
        low, high = _CHAR_CLASS.match(pattern).group(2, 3)
        problems.append(f"{where} must have {low} to {high} characters")


def _validate_number(value: float, schema: dict, where: str, problems: list[str]) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{where} must be a finite number, got {value!r}")
        return
    if not fits_double(value):
        problems.append(f"{where} is a whole number too large to use (beyond 1.8e308); "
                        "use an ordinary number")
        return
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{where} is {short(value)}; the minimum is {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        problems.append(f"{where} is {short(value)}; the maximum is {schema['maximum']}")


@functools.lru_cache(maxsize=64)
def _pattern(pattern: str) -> re.Pattern:
    # JSON Schema patterns are ECMA-262: "$" ends the text. Python's "$" also matches before a
    # final newline, which would let "name\n" through, so an anchoring "$" becomes "\Z".
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


# "^X{m,n}$" where X matches one allowed character (a class, or classes joined by "|"):
# a pattern that only says which characters may appear, and how many.
_CHAR_CLASS = re.compile(r"^\^(\[.+\]|\(.+\))\{(\d+),(\d+)\}\$$")


def _is_char_class(pattern: str) -> bool:
    return bool(_CHAR_CLASS.match(pattern))


@functools.lru_cache(maxsize=64)
def _allowed_char(pattern: str) -> re.Pattern:
    return re.compile(_CHAR_CLASS.match(pattern).group(1))


# --------------------------------------------------------------------------- sanitising


def sanitise(value: Any, schema: dict) -> tuple[Any, list[str]]:
    """A repaired copy of ``value`` and a sentence per repair.

    Text loses control and direction-override characters (line breaks become spaces),
    characters a name may not hold (path separators ...) become ``-``, and over-long text is
    cut; finite numbers out of range are clamped. Everything else (wrong types, NaN, too many
    items, unknown fields) is left for ``schema_problems`` to refuse: guessing would change
    the idea.
    """
    check_nesting(value)
    repairs: list[str] = []
    cleaned = _sanitise(copy.deepcopy(value), schema, schema, "", repairs)
    return cleaned, capped(repairs)


def check_nesting(value: Any, path: str = "", depth: int = 0) -> None:
    """Refuse ``value`` when it nests more than ``MAX_NESTING`` levels (the walk stops there)."""
    if isinstance(value, dict):
        children = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        children = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return
    if depth == MAX_NESTING:
        where = _label(path) if len(path) <= 40 else path[:37] + "..."
        raise DocumentError([f"{where} is nested too deeply (more than {MAX_NESTING} levels of lists "
                             "and objects); an Atelier document nests only a few levels, so this is not one"])
    for where, item in children:
        check_nesting(item, where, depth + 1)


def _sanitise(value: Any, schema: dict, root: dict, path: str, repairs: list[str]) -> Any:
    schema = _resolve(schema, root)
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                value[name] = _sanitise(value[name], sub, root, f"{path}.{name}" if path else name, repairs)
    elif isinstance(value, list) and "items" in schema and len(value) <= schema.get("maxItems", len(value)):
        value = [_sanitise(item, schema["items"], root, f"{path}[{i}]", repairs)
                 for i, item in enumerate(value)]
    elif isinstance(value, str) and schema.get("type") == "string":
        cleaned = clean_text(value, schema)
        if cleaned != value and cleaned:
            repairs.append(f"{_label(path)} was cleaned to {short(cleaned)}")
            value = cleaned
    elif (isinstance(value, (int, float)) and not isinstance(value, bool) and fits_double(value)
          and schema.get("type") == "number"):
        low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
        clamped = min(max(value, low), high)
        if clamped != value:
            repairs.append(f"{_label(path)} {short(value)} was clamped to {clamped}")
            value = clamped
    return value


def clean_text(text: str, schema: dict) -> str:
    """``text`` made to fit a string schema whose pattern is a character class, else unchanged."""
    pattern = schema.get("pattern")
    if pattern is None or not _is_char_class(pattern):
        return text
    allowed = _allowed_char(pattern)
    out = []
    for char in text:
        if allowed.fullmatch(char):
            out.append(char)
        elif char.isspace():
            out.append(" ")
        elif unicodedata.category(char).startswith("C"):
            continue  # control, format (direction overrides), unassigned: drop
        else:
            out.append("-")
    cleaned = " ".join("".join(out).split())
    return cleaned[: schema.get("maxLength", len(cleaned))].strip()
