"""Scene ideas are data: validate, sanitise and sanity-check them against ``schemas/scene_idea.json``.

Standard library only. Blender's Python imports this module to re-check ideas read from a
.blend (which may come from anyone), and Blender must need no compiled packages, so the
validator here covers the JSON-Schema subset the schema file uses and refuses a schema that
uses anything else. The schema file stays the one definition of an idea.

Every problem is a plain sentence naming the field (``objects[3].location[0]``) and the fix,
because the backend quotes these sentences back to the model when it retries.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import unicodedata
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "scene_idea.json"
SCHEMA_VERSION = "atelier.scene_idea/1"
MIN_IDEAS = 1
MAX_IDEAS = 5
# How much of the artist's scene a request may describe (more is cut, not refused).
MAX_CONTEXT_OBJECTS = 32
MAX_CONTEXT_COLORS = 16
# A model answer or a stored idea larger than this is refused before parsing: five ideas at
# the schema's limits (every character escaped, about 75 kB each) stay below it, and it keeps
# hostile input from costing memory.
MAX_JSON_CHARS = 1_000_000
# Listing every problem of a hostile document helps nobody; the first few say what to fix.
MAX_REPORTED_PROBLEMS = 12
# Levels of objects and arrays a checked value may have. A document of ideas needs 6
# ({"ideas": [{"objects": [{"location": [...]}]}]}); a stored value far deeper is hostile, and
# copying it would exhaust Python's recursion limit before the schema is even looked at.
MAX_NESTING = 16

# The keywords this validator understands. Annotations are ignored; anything else in the schema
# would be silently unchecked, so it is refused instead.
_ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "$defs"}
_KEYWORDS = {
    "type", "const", "enum", "properties", "required", "additionalProperties", "items",
    "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "$ref",
}
# Primitives with volume; planes, text and empties are flat or points and may overlap freely.
SOLID_PRIMITIVES = ("cube", "uv_sphere", "cylinder", "cone", "torus", "monkey")
# Two solids whose boxes share more than this fraction (intersection over union) are "mostly
# overlapping": the block-out would show one lump instead of a layout.
MAX_OVERLAP = 0.6
# A sun's energy is irradiance; bright daylight is about 10 W/m2, so far above is a unit mix-up.
MAX_SUN_IRRADIANCE = 100.0
# The camera must see at least this share of the objects' centres (sensor 36 mm wide).
MIN_VISIBLE_SHARE = 0.5
SENSOR_WIDTH_MM = 36.0


class SchemaError(ValueError):
    """The schema uses a keyword this validator does not implement."""


class IdeaError(ValueError):
    """An idea (or a document of ideas) was refused; ``problems`` says what to change."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


# --------------------------------------------------------------------------- the schema


@functools.lru_cache(maxsize=1)
def _cached_schema() -> dict:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    _check_supported(schema, "#")
    return schema


def load_schema() -> dict:
    """The idea schema (a fresh copy: callers may change it)."""
    return copy.deepcopy(_cached_schema())


def ideas_document_schema(count: int) -> dict:
    """The schema of ``{"ideas": [...]}`` holding exactly ``count`` ideas, for generation."""
    _check_count(count)
    idea = load_schema()
    defs = idea.pop("$defs")
    for key in ("$schema", "$id"):
        idea.pop(key)
    defs["idea"] = idea
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["ideas"],
        "properties": {
            "ideas": {"type": "array", "minItems": count, "maxItems": count,
                      "items": {"$ref": "#/$defs/idea"}},
        },
        "$defs": defs,
    }


def _check_count(count: Any) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or not MIN_IDEAS <= count <= MAX_IDEAS:
        raise IdeaError([f"count must be a whole number from {MIN_IDEAS} to {MAX_IDEAS}, got {count!r}"])


def _check_supported(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        return
    unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
    if unknown:
        raise SchemaError(f"{where} uses unsupported keyword(s) {sorted(unknown)}")
    for name, sub in schema.get("properties", {}).items():
        _check_supported(sub, f"{where}/properties/{name}")
    for name, sub in schema.get("$defs", {}).items():
        _check_supported(sub, f"{where}/$defs/{name}")
    _check_supported(schema.get("items"), f"{where}/items")


# --------------------------------------------------------------------------- requests


MAX_PROMPT_CHARS = 1000


def request_problems(prompt: Any, count: Any) -> list[str]:
    """What is wrong with a request for ``count`` ideas about ``prompt`` (both sides check it)."""
    problems = []
    if not isinstance(prompt, str) or not prompt.strip():
        problems.append("the prompt is empty; describe the scene you want ideas for")
    elif len(prompt) > MAX_PROMPT_CHARS:
        problems.append(f"the prompt has {len(prompt)} characters; shorten it to {MAX_PROMPT_CHARS}")
    try:
        _check_count(count)
    except IdeaError as exc:
        problems += exc.problems
    return problems


# --------------------------------------------------------------------------- parsing


def parse_json(text: str) -> Any:
    """Parse model output or stored text; NaN, Infinity and oversize input are refused."""
    if not isinstance(text, str):
        raise IdeaError([f"expected JSON text, got {type(text).__name__}"])
    if len(text) > MAX_JSON_CHARS:
        raise IdeaError([f"the JSON text is {len(text)} characters; at most {MAX_JSON_CHARS} are read"])
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise IdeaError(["the JSON text is nested too deeply"]) from None
    except ValueError as exc:
        raise IdeaError([f"not valid JSON: {exc}"]) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; use a finite number")


# --------------------------------------------------------------------------- validation


def schema_problems(value: Any, schema: dict | None = None) -> list[str]:
    """Every way ``value`` breaks ``schema`` (the idea schema by default); empty when valid."""
    root = _cached_schema() if schema is None else schema
    if schema is not None:
        _check_supported(schema, "#")
    problems: list[str] = []
    _validate(value, root, root, "", problems)
    return _capped(problems)


def _capped(problems: list[str]) -> list[str]:
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


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _validate(value: Any, schema: dict, root: dict, path: str, problems: list[str]) -> None:
    schema = _resolve(schema, root)
    where = _label(path)
    kind = schema.get("type")
    if kind is not None and not _is_type(value, kind):
        problems.append(f"{where} must be {_TYPE_NAMES[kind]}, got {_short(value)}")
        return
    if "const" in schema and not _same(value, schema["const"]):
        problems.append(f"{where} must be {json.dumps(schema['const'])}, got {_short(value)}")
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        options = ", ".join(json.dumps(option) for option in schema["enum"])
        problems.append(f"{where} must be one of {options}, got {_short(value)}")
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
        problems.append(f"{where} {_short(value)} must match {pattern}")
        return
    allowed = _allowed_char(pattern)
    bad = next((char for char in value if not allowed.fullmatch(char)), None)
    if bad is not None:
        problems.append(f"{where} {_short(value)} holds U+{ord(bad):04X}, which is not allowed "
                        f"(no control or direction characters, quotes or backslashes; "
                        f"titles and names also no / : * ? < > |)")
    elif not any(problem.startswith(f"{where} ") for problem in problems):
        low, high = _CHAR_CLASS.match(pattern).group(2, 3)
        problems.append(f"{where} must have {low} to {high} characters")


def _validate_number(value: float, schema: dict, where: str, problems: list[str]) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{where} must be a finite number, got {value!r}")
        return
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{where} is {_short(value)}; the minimum is {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        problems.append(f"{where} is {_short(value)}; the maximum is {schema['maximum']}")


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


def sanitise(value: Any, schema: dict | None = None) -> tuple[Any, list[str]]:
    """A repaired copy of ``value`` and a sentence per repair.

    Text loses control and direction-override characters (line breaks become spaces),
    characters a name may not hold (path separators ...) become ``-``, and over-long text is
    cut; finite numbers out of range are clamped. Everything else (wrong types, NaN, too many
    items, unknown fields) is left for ``schema_problems`` to refuse: guessing would change
    the idea.
    """
    root = _cached_schema() if schema is None else schema
    _check_nesting(value)
    repairs: list[str] = []
    cleaned = _sanitise(copy.deepcopy(value), root, root, "", repairs)
    return cleaned, _capped(repairs)


def _check_nesting(value: Any, path: str = "", depth: int = 0) -> None:
    """Refuse ``value`` when it nests more than ``MAX_NESTING`` levels (the walk stops there)."""
    if isinstance(value, dict):
        children = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        children = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return
    if depth == MAX_NESTING:
        where = _label(path) if len(path) <= 40 else path[:37] + "..."
        raise IdeaError([f"{where} is nested too deeply (more than {MAX_NESTING} levels of lists and "
                         "objects); a scene idea nests only a few levels, so this is not one"])
    for where, item in children:
        _check_nesting(item, where, depth + 1)


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
            repairs.append(f"{_label(path)} was cleaned to {_short(cleaned)}")
            value = cleaned
    elif (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
          and schema.get("type") == "number"):
        low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
        clamped = min(max(value, low), high)
        if clamped != value:
            repairs.append(f"{_label(path)} {_short(value)} was clamped to {clamped}")
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


# --------------------------------------------------------------------------- checking


def check_idea(value: Any) -> tuple[dict, list[str]]:
    """A sanitised, schema-valid idea and the repairs made; raises ``IdeaError`` otherwise."""
    if isinstance(value, str):
        value = parse_json(value)
    cleaned, repairs = sanitise(value)
    problems = schema_problems(cleaned)
    if problems:
        raise IdeaError(problems)
    return cleaned, repairs


def check_ideas_document(value: Any, count: int) -> tuple[list[dict], list[str]]:
    """Check a generated ``{"ideas": [...]}`` document; returns the ideas and the repairs made."""
    if isinstance(value, str):
        value = parse_json(value)
    schema = ideas_document_schema(count)
    cleaned, repairs = sanitise(value, schema)
    problems = schema_problems(cleaned, schema)
    if problems:
        raise IdeaError(problems)
    return cleaned["ideas"], repairs


# --------------------------------------------------------------------------- semantics


def semantic_problems(idea: dict) -> list[str]:
    """What makes an idea a poor block-out: overlap, a blind camera, a sun in watts.

    ``idea`` must have passed ``check_idea`` (this reads its fields without checking them).
    """
    problems = _overlap_problems(idea["objects"])
    problems += _camera_problems(idea["camera"], idea["objects"])
    for index, light in enumerate(idea["lights"]):
        if light["type"] == "sun" and light["energy"] > MAX_SUN_IRRADIANCE:
            problems.append(
                f"lights[{index}] is a sun with energy {light['energy']:g}; a sun's energy is "
                f"irradiance in W/m2 (daylight is about 1 to 10), keep it at most {MAX_SUN_IRRADIANCE:g}")
    return _capped(problems)


def _rotation_matrix(degrees: list[float]) -> list[list[float]]:
    # Blender's XYZ Euler: R = Rz @ Ry @ Rx.
    x, y, z = (math.radians(angle) for angle in degrees)
    cx, sx, cy, sy, cz, sz = math.cos(x), math.sin(x), math.cos(y), math.sin(y), math.cos(z), math.sin(z)
    return [
        [cy * cz, sx * sy * cz - cx * sz, cx * sy * cz + sx * sz],
        [cy * sz, sx * sy * sz + cx * cz, cx * sy * sz - sx * cz],
        [-sy, sx * cy, cx * cy],
    ]


def object_box(obj: dict) -> tuple[list[float], list[float]]:
    """The axis-aligned box (min corner, max corner) around an object; primitives are 1 m across."""
    matrix = _rotation_matrix(obj["rotation"])
    half = [size / 2 for size in obj["scale"]]
    extent = [sum(abs(matrix[row][col]) * half[col] for col in range(3)) for row in range(3)]
    centre = obj["location"]
    return [centre[i] - extent[i] for i in range(3)], [centre[i] + extent[i] for i in range(3)]


def _volume(low: list[float], high: list[float]) -> float:
    return math.prod(max(0.0, high[i] - low[i]) for i in range(3))


def _overlap_problems(objects: list[dict]) -> list[str]:
    solids = [(obj["name"], object_box(obj)) for obj in objects if obj["primitive"] in SOLID_PRIMITIVES]
    problems = []
    for i, (name_a, (low_a, high_a)) in enumerate(solids):
        for name_b, (low_b, high_b) in solids[i + 1:]:
            shared = _volume([max(low_a[k], low_b[k]) for k in range(3)],
                             [min(high_a[k], high_b[k]) for k in range(3)])
            union = _volume(low_a, high_a) + _volume(low_b, high_b) - shared
            if union > 0 and shared / union > MAX_OVERLAP:
                problems.append(
                    f"objects {name_a!r} and {name_b!r} take up mostly the same space "
                    f"({shared / union:.0%} of their boxes overlap); move them apart or resize them")
    return problems


def _camera_problems(camera: dict, objects: list[dict]) -> list[str]:
    location, target = camera["location"], camera["target"]
    view = [target[i] - location[i] for i in range(3)]
    if math.dist(location, target) < 0.1:
        return ["camera.target is where the camera stands; aim it at the objects"]
    problems = []
    for obj in objects:
        if obj["primitive"] in SOLID_PRIMITIVES:
            low, high = object_box(obj)
            if all(low[i] < location[i] < high[i] for i in range(3)):
                problems.append(f"the camera at {_point(location)} is inside {obj['name']!r}; move it out")
    # A cone a little wider than the lens' horizontal field of view, so objects at the frame's
    # edge still count as seen.
    half_angle = 1.2 * math.atan(SENSOR_WIDTH_MM / 2 / camera["lens"])
    placed = [obj for obj in objects if obj["primitive"] != "empty"] or objects
    seen = sum(1 for obj in placed if _angle(view, [obj["location"][i] - location[i] for i in range(3)])
               <= half_angle)
    if seen < MIN_VISIBLE_SHARE * len(placed):
        centre = [sum(obj["location"][i] for obj in placed) / len(placed) for i in range(3)]
        problems.append(
            f"the camera at {_point(location)} looking at {_point(target)} sees only {seen} of "
            f"{len(placed)} objects; aim camera.target at the layout (its centre is near {_point(centre)}) "
            f"or move the camera back")
    return problems


def _angle(a: list[float], b: list[float]) -> float:
    norm = math.hypot(*a) * math.hypot(*b)
    if norm == 0:
        return 0.0  # an object at the camera's own position counts as in view
    cosine = sum(a[i] * b[i] for i in range(3)) / norm
    return math.acos(max(-1.0, min(1.0, cosine)))


def _point(values: list[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"
