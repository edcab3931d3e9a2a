"""Repairs Atelier makes to a scene idea itself, so a usable answer is not sent back to the model.

A text model, a small one above all, often writes an idea that is valid but poorly laid out:
a camera looking past the objects, a sun in watts, one object far from the rest, the same
object twice. Each of these has one sensible fix, made here without the model:

- ``remove_duplicates``: an object equal to an earlier one in everything but its name goes;
- ``fit_object_sizes``: an object larger than ``MAX_OBJECT_SIZE`` across shrinks, keeping its
  proportions (the schema keeps every side of a primitive from 1 cm to 50 m; text runs as
  wide as its words, so its letters may be too tall);
- ``gather_objects``: an object far from the rest of the layout is pulled in beside it;
- ``fit_layout``: a layout more than ``MAX_LAYOUT_SIZE`` across is drawn together;
- ``clamp_light_power``: each light's power is brought into its type's sane range;
- ``frame_camera``: a camera that does not frame every object's centre is aimed at the layout
  and moved back until it does (``core.ideas.framed``, the same view the check uses).

``repair_idea`` runs them all, in that order, on a copy of a schema-valid idea and returns the
copy and one sentence per repair. A repaired idea is still schema-valid and passes
``core.ideas.semantic_problems`` except for overlapping objects, which only the model can fix.
Standard library only: Blender's Python and the backend both import this.
"""

from __future__ import annotations

import copy
import functools
import math
import statistics

from . import ideas as idea_rules

MIN_OBJECT_SIZE, MAX_OBJECT_SIZE = 0.01, 50.0  # metres, an object's largest side
MAX_LAYOUT_SIZE = 200.0  # metres, the largest side of the box around every object
# Text in Blender's default font: a character is at most this many letter heights wide.
TEXT_WIDTH_PER_CHARACTER = 0.7
# An object whose centre lies further from the middle of the layout than GATHER_SPREAD times the
# typical object's distance (and at least GATHER_MIN_REACH metres), beyond its own half-size,
# is a stray: it is pulled in to that distance.
GATHER_SPREAD, GATHER_MIN_REACH = 3.0, 10.0
# Power by light type: watts, for a sun W/m2 (daylight is about 1 to 10).
LIGHT_POWER = {"sun": (0.5, 20.0), "point": (5.0, 5000.0), "spot": (5.0, 5000.0), "area": (5.0, 5000.0)}
# The camera frames centres inside this share of the frame's cone (a margin for rounding and
# for an object's drawn centre lying a little off its location), standing at least this far
# out of any solid object.
FRAME_MARGIN, CLEARANCE = 0.9, 0.1
# Shorter lenses tried when the camera cannot frame the layout from inside the schema's bounds.
WIDER_LENSES = (35.0, 24.0, 16.0, 8.0)
# Directions (from the layout towards the camera) tried after the idea's own: in front and
# above first, the six axes last (from one of those even a collapsed layout can be framed).
VIEWS = ((0, -2, 1), (2, -2, 1), (-2, -2, 1), (2, 2, 1), (-2, 2, 1), (0, 2, 1),
         (0, 0, 1), (0, -1, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, 0, -1))


def repair_idea(idea: dict) -> tuple[dict, list[str]]:
    """A repaired copy of the schema-valid ``idea`` and a sentence per repair made."""
    idea = copy.deepcopy(idea)
    repairs = []
    for repair in (remove_duplicates, fit_object_sizes, gather_objects, fit_layout,
                   clamp_light_power, frame_camera):
        repairs += repair(idea)
    return idea, repairs


# --------------------------------------------------------------------------- objects


def remove_duplicates(idea: dict) -> list[str]:
    """Drop each object equal to an earlier one in everything but its name: in a block-out the
    two would be one shape drawn twice."""
    kept, dropped = [], []
    for obj in idea["objects"]:
        shape = {k: v for k, v in obj.items() if k != "name"}
        if any(shape == {k: v for k, v in other.items() if k != "name"} for other in kept):
            dropped.append(obj["name"])
        else:
            kept.append(obj)
    idea["objects"] = kept
    if not dropped:
        return []
    return [f"{len(dropped)} exact copy(ies) of other objects were removed: "
            f"{_listed([repr(name) for name in dropped])}"]


def object_size(obj: dict) -> float:
    """An object's largest side in metres as Blender builds it (text: as wide as its words)."""
    scale = obj["scale"]
    if obj["primitive"] == "text":
        characters = len(obj.get("body") or obj["name"])
        return max(characters * scale[1] * TEXT_WIDTH_PER_CHARACTER, scale[1], scale[2])
    return max(scale)


def fit_object_sizes(idea: dict) -> list[str]:
    """Shrink each object larger than ``MAX_OBJECT_SIZE`` across to that size, keeping its
    proportions. (None is smaller than ``MIN_OBJECT_SIZE``: the schema keeps every side at
    least 1 cm.)"""
    shrunk = []
    for obj in idea["objects"]:
        size = object_size(obj)
        if size > MAX_OBJECT_SIZE:
            factor = MAX_OBJECT_SIZE / size
            # Rounded down, so the rounding cannot take it back over the limit.
            obj["scale"] = [max(MIN_OBJECT_SIZE, math.floor(side * factor * 1000) / 1000)
                            for side in obj["scale"]]
            shrunk.append(f"{obj['name']!r} ({size:.0f} m)")
    if not shrunk:
        return []
    return [f"{len(shrunk)} object(s) larger than {MAX_OBJECT_SIZE:g} m across were scaled down to "
            f"{MAX_OBJECT_SIZE:g} m, keeping their proportions: {_listed(shrunk)}"]


def gather_objects(idea: dict) -> list[str]:
    """Pull each stray object in towards the rest, so the layout is one group."""
    objects = idea["objects"]
    if len(objects) < 3:  # with two, neither is the stray
        return []
    middle = [statistics.median(obj["location"][i] for obj in objects) for i in range(3)]
    typical = statistics.median(math.dist(obj["location"], middle) for obj in objects)
    reach = max(GATHER_MIN_REACH, GATHER_SPREAD * typical)
    pulled = []
    for obj in objects:
        distance = math.dist(obj["location"], middle)
        limit = reach + object_size(obj) / 2
        if distance > limit + 0.01:  # a centimetre's slack: locations are rounded to millimetres
            obj["location"] = [_round(middle[i] + (obj["location"][i] - middle[i]) * limit / distance)
                               for i in range(3)]
            pulled.append(f"{obj['name']!r} ({distance:.0f} m from the middle, now {limit:.0f} m)")
    if not pulled:
        return []
    return [f"{len(pulled)} object(s) far from the rest were pulled in to the group: {_listed(pulled)}"]


def layout_size(objects: list[dict]) -> float:
    """The largest side, in metres, of the box around every object's box."""
    boxes = [idea_rules.object_box(obj) for obj in objects]
    return max(max(high[i] for _, high in boxes) - min(low[i] for low, _ in boxes) for i in range(3))


def fit_layout(idea: dict) -> list[str]:
    """Draw a layout larger than ``MAX_LAYOUT_SIZE`` across together (sizes stay as they are)."""
    size = layout_size(idea["objects"])
    if size <= MAX_LAYOUT_SIZE:
        return []
    factor = _largest_factor(lambda k: layout_size(_drawn_in(idea, k)["objects"]) <= MAX_LAYOUT_SIZE)
    idea.update(_drawn_in(idea, factor))
    return [f"the layout was {size:.0f} m across; its spacing was drawn in to {factor:.0%} so it "
            f"spans {layout_size(idea['objects']):.0f} m"]


def _drawn_in(idea: dict, factor: float) -> dict:
    """The objects and lights of ``idea`` moved towards the middle of the objects by ``factor``
    (1: unchanged, 0: every one in the middle)."""
    middle = layout_middle(idea["objects"])

    def moved(item: dict) -> dict:
        return {**item, "location": [_round(middle[i] + (item["location"][i] - middle[i]) * factor)
                                     for i in range(3)]}

    return {"objects": [moved(obj) for obj in idea["objects"]],
            "lights": [moved(light) for light in idea["lights"]]}


def layout_middle(objects: list[dict]) -> list[float]:
    """The middle of the box around the objects' centres."""
    return [(min(obj["location"][i] for obj in objects) + max(obj["location"][i] for obj in objects)) / 2
            for i in range(3)]


# --------------------------------------------------------------------------- lights


def clamp_light_power(idea: dict) -> list[str]:
    """Bring each light's power into its type's range (``LIGHT_POWER``)."""
    changed = []
    for index, light in enumerate(idea["lights"]):
        low, high = LIGHT_POWER[light["type"]]
        power = min(max(light["energy"], low), high)
        if power != light["energy"]:
            changed.append(f"lights[{index}] {light['type']} {_amount(light['energy'])} to "
                           f"{_amount(power)} {_power_unit(light['type'])}")
            light["energy"] = power
    if not changed:
        return []
    kinds_by_range: dict[tuple, list[str]] = {}
    for kind, bounds in LIGHT_POWER.items():
        kinds_by_range.setdefault(bounds, []).append(kind)
    ranges = ", ".join(f"{'/'.join(kinds)} {_amount(low)} to {_amount(high)} {_power_unit(kinds[0])}"
                       for (low, high), kinds in kinds_by_range.items())
    return [f"the power of {len(changed)} light(s) was brought into a sane range ({ranges}): "
            f"{_listed(changed)}"]


# --------------------------------------------------------------------------- the camera


def camera_is_usable(idea: dict) -> bool:
    """Whether the camera frames every object's centre and stands outside every solid object."""
    camera, objects = idea["camera"], idea["objects"]
    return (math.dist(camera["location"], camera["target"]) >= 0.1
            and not idea_rules.solids_holding(camera["location"], objects)
            and all(idea_rules.framed(camera, obj["location"]) for obj in objects))


def frame_camera(idea: dict) -> list[str]:
    """Aim a camera that misses objects at the middle of the layout and move it back until every
    object's centre is in frame; a longer lens may get shorter, and a layout too wide to frame
    from inside the schema's bounds is drawn together."""
    if camera_is_usable(idea):
        return []
    old = idea["camera"]
    hosts = idea_rules.solids_holding(old["location"], idea["objects"])
    if math.dist(old["location"], old["target"]) < 0.1:
        fault = "stood on its own target"
    elif hosts:
        fault = f"stood inside {hosts[0]!r}"
    else:
        fault = f"did not frame all {len(idea['objects'])} objects"
    camera = _best_camera(idea)
    repairs = []
    if camera is None:  # too wide to frame from inside the bounds: draw it together
        factor = _largest_factor(lambda k: _best_camera({**idea, **_drawn_in(idea, k)}) is not None)
        idea.update(_drawn_in(idea, factor))
        camera = _best_camera(idea)
        repairs.append(f"the layout's spacing was drawn in to {factor:.0%} so one camera can frame it")
    idea["camera"] = camera
    moved = ("" if math.dist(camera["location"], old["location"]) < 0.001
             else f" and moved to {_point(camera['location'])}")
    repairs.insert(0, f"the camera at {_point(old['location'])} looking at {_point(old['target'])} {fault}; "
                      f"it was aimed at the middle of the layout {_point(camera['target'])}{moved}")
    if camera["lens"] != old["lens"]:
        repairs.append(f"the camera's lens was widened from {_amount(old['lens'])} mm to "
                       f"{_amount(camera['lens'])} mm to take in the layout")
    return repairs


def _best_camera(idea: dict) -> dict | None:
    """The first camera (the idea's own view and lens first) that frames every centre from
    inside the schema's bounds; None when there is none."""
    old, objects = idea["camera"], idea["objects"]
    target = layout_middle(objects)
    own = _unit([old["location"][i] - target[i] for i in range(3)])
    if own is None:  # standing at the middle: keep the way it looked
        own = _unit([old["location"][i] - old["target"][i] for i in range(3)])
    views = ([(own, math.dist(old["location"], target))] if own else []) + [(_unit(v), 0.0) for v in VIEWS]
    lenses = [old["lens"]] + [lens for lens in WIDER_LENSES if lens < old["lens"]]
    bound = _location_bound()
    for back, least in views:
        for lens in lenses:
            distance = _distance_to_frame(objects, target, back, lens, least)
            camera = {"lens": lens, "location": [_round(target[i] + back[i] * distance) for i in range(3)],
                      "target": [_round(v) for v in target]}
            inside_bounds = all(abs(v) <= bound for v in camera["location"])
            if inside_bounds and camera_is_usable({**idea, "camera": camera}):
                return camera
    return None


def _distance_to_frame(objects: list[dict], target: list[float], back: list[float], lens: float,
                       least: float) -> float:
    """How far from ``target`` along ``back`` (a unit vector) a camera looking at ``target``
    through ``lens`` frames every centre with a margin and stands outside every solid; at least
    ``least``."""
    slope = FRAME_MARGIN * math.tan(idea_rules.frame_half_angle(lens))
    distance = max(least, 2 * idea_rules.NEAR_CLIP)
    for obj in objects:
        offset = [obj["location"][i] - target[i] for i in range(3)]
        along = -sum(offset[i] * back[i] for i in range(3))  # towards the view: in front of the target
        across = math.dist(offset, [-along * back[i] for i in range(3)])
        distance = max(distance, across / slope - along, 2 * idea_rules.NEAR_CLIP - along)
    # Each solid's box grown by the clearance: the camera must end up outside all of them.
    boxes = [([v - CLEARANCE for v in low], [v + CLEARANCE for v in high])
             for low, high in (idea_rules.object_box(obj) for obj in objects
                               if obj["primitive"] in idea_rules.SOLID_PRIMITIVES)]
    for _ in range(len(boxes) + 1):  # a ray leaves each box once: each step leaves one for good
        at = [target[i] + back[i] * distance for i in range(3)]
        holding = [box for box in boxes if all(box[0][i] <= at[i] <= box[1][i] for i in range(3))]
        if not holding:
            break
        distance = max(_exit(box, target, back) for box in holding) + idea_rules.NEAR_CLIP
    return distance


def _exit(box, start: list[float], direction: list[float]) -> float:
    """How far from ``start`` along ``direction`` the ray leaves ``box`` for good."""
    low, high = box
    return min(((high[i] if direction[i] > 0 else low[i]) - start[i]) / direction[i]
               for i in range(3) if direction[i] != 0)


# --------------------------------------------------------------------------- pieces


@functools.cache
def _location_bound() -> float:
    """How far from the origin, along each axis, the schema lets a camera stand."""
    return idea_rules.load_schema()["$defs"]["location"]["items"]["maximum"]


def _largest_factor(fits) -> float:
    """The largest factor in [0, 1] (to 1 %) for which ``fits(factor)`` holds; ``fits(0)`` must."""
    low, high = 0.0, 1.0
    while high - low > 0.01:
        middle = (low + high) / 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _unit(vector) -> list[float] | None:
    length = math.hypot(*vector)
    return [v / length for v in vector] if length > 1e-9 else None


def _round(value: float) -> float:
    return round(value, 3)  # millimetres: what a block-out needs, and short to read


def _point(values: list[float]) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in values) + ")"


def _power_unit(light_type: str) -> str:
    return "W/m2" if light_type == "sun" else "W"  # a sun's strength is irradiance


def _amount(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _listed(items: list[str], shown: int = 5) -> str:
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")
