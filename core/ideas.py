"""Scene ideas are data: the rules an idea must meet, on both sides of the process boundary.

The backend checks a model's answer with these rules (and quotes the problems back to the
model when it retries); Blender re-checks ideas read from a .blend, which may come from anyone.
``schemas/scene_idea.json`` is the one definition of an idea; ``schema`` validates against it.
The camera's view (``off_axis``, ``depth``, ``framed``) is defined here once: the check counts
what a camera sees with it, and ``idea_repair`` aims a camera with it.
"""

from __future__ import annotations

import math
from typing import Any

from . import limits
from . import schema as json_schema
from .schema import DocumentError as IdeaError  # an idea's problems are a document's problems
from .schema import parse_json

SCHEMA_FILE = "scene_idea.json"
SCHEMA_VERSION = "atelier.scene_idea/1"
MIN_IDEAS = 1
MAX_IDEAS = 5
# How much of the artist's scene a request may describe (more is cut, not refused).
MAX_CONTEXT_OBJECTS = 32
MAX_CONTEXT_COLORS = 16

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
# Blender's default frame is 16:9 (1920 x 1080) with the sensor across its long side. A point
# inside the cone that fits the frame's short side is in frame whatever the camera's roll, for
# any frame from 16:9 to 9:16.
FRAME_ASPECT = 16 / 9
# Blender's default clip start: a centre nearer than this to the camera is not drawn.
NEAR_CLIP = 0.1


# --------------------------------------------------------------------------- the schema


def load_schema() -> dict:
    """The idea schema (a fresh copy: callers may change it)."""
    return json_schema.load(SCHEMA_FILE)


def schema_problems(value: Any, schema: dict | None = None) -> list[str]:
    """Every way ``value`` breaks ``schema`` (the idea schema by default); empty when valid."""
    return json_schema.problems(value, schema or json_schema.cached(SCHEMA_FILE))


def sanitise(value: Any, schema: dict | None = None) -> tuple[Any, list[str]]:
    """A repaired copy of ``value`` and a sentence per repair (``schema.sanitise``)."""
    return json_schema.sanitise(value, schema or json_schema.cached(SCHEMA_FILE))


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
        raise IdeaError([f"count must be a whole number from {MIN_IDEAS} to {MAX_IDEAS}, "
                         f"got {json_schema.short(count)}"])


# --------------------------------------------------------------------------- requests


def request_problems(prompt: Any, count: Any) -> list[str]:
    """What is wrong with a request for ``count`` ideas about ``prompt`` (both sides check it)."""
    problems = []
    if not isinstance(prompt, str) or not prompt.strip():
        problems.append("the prompt is empty; describe the scene you want ideas for")
    elif limits.prompt_length_problem(prompt):
        problems.append(limits.prompt_length_problem(prompt))
    try:
        _check_count(count)
    except IdeaError as exc:
        problems += exc.problems
    return problems


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
    return json_schema.capped(problems)


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
    if math.dist(location, target) < 0.1:
        return ["camera.target is where the camera stands; aim it at the objects"]
    problems = [f"the camera at {_point(location)} is inside {name!r}; move it out"
                for name in solids_holding(location, objects)]
    placed = [obj for obj in objects if obj["primitive"] != "empty"] or objects
    seen = sum(1 for obj in placed if off_axis(camera, obj["location"]) <= seen_half_angle(camera["lens"]))
    if seen < MIN_VISIBLE_SHARE * len(placed):
        centre = [sum(obj["location"][i] for obj in placed) / len(placed) for i in range(3)]
        problems.append(
            f"the camera at {_point(location)} looking at {_point(target)} sees only {seen} of "
            f"{len(placed)} objects; aim camera.target at the layout (its centre is near {_point(centre)}) "
            f"or move the camera back")
    return problems


def solids_holding(point: list[float], objects: list[dict]) -> list[str]:
    """The names of the solid objects whose boxes hold ``point`` (a camera's location, say)."""
    return [obj["name"] for obj in objects if obj["primitive"] in SOLID_PRIMITIVES
            and _holds(object_box(obj), point)]


def _holds(box: tuple[list[float], list[float]], point: list[float]) -> bool:
    low, high = box
    return all(low[i] < point[i] < high[i] for i in range(3))


# --------------------------------------------------------------------------- the view


def seen_half_angle(lens: float) -> float:
    """The cone (half-angle, radians) the check counts as seen: a little wider than the lens'
    horizontal field of view, so objects at the frame's edge still count."""
    return 1.2 * math.atan(SENSOR_WIDTH_MM / 2 / lens)


def frame_half_angle(lens: float) -> float:
    """The widest cone (half-angle, radians) around the view axis that lies inside the frame."""
    return math.atan(SENSOR_WIDTH_MM / 2 / FRAME_ASPECT / lens)


def off_axis(camera: dict, point: list[float]) -> float:
    """The angle (radians) between the camera's view, from its location to its target, and the
    direction from its location to ``point``; 0 for a point where the camera stands."""
    location = camera["location"]
    return _angle([camera["target"][i] - location[i] for i in range(3)],
                  [point[i] - location[i] for i in range(3)])


def depth(camera: dict, point: list[float]) -> float:
    """How far in front of the camera ``point`` lies, along its view (negative: behind it)."""
    location, target = camera["location"], camera["target"]
    view = [target[i] - location[i] for i in range(3)]
    length = math.hypot(*view)
    return sum(view[i] * (point[i] - location[i]) for i in range(3)) / length if length else 0.0


def framed(camera: dict, point: list[float]) -> bool:
    """Whether ``point`` is in the camera's frame and in front of it (past the clip start)."""
    return depth(camera, point) >= NEAR_CLIP and off_axis(camera, point) <= frame_half_angle(camera["lens"])


def _angle(a: list[float], b: list[float]) -> float:
    norm = math.hypot(*a) * math.hypot(*b)
    if norm == 0:
        return 0.0  # an object at the camera's own position counts as in view
    cosine = sum(a[i] * b[i] for i in range(3)) / norm
    return math.acos(max(-1.0, min(1.0, cosine)))


def _point(values: list[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"
