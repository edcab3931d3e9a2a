"""Scene ideas into the scene: store suggested ideas, and build one as a block-out.

Plain functions (operators are thin shells around them). An idea is data from a model or from
someone's .blend, so it is checked with ``core.ideas`` (standard library only) every
time before it is stored or built, and it only ever becomes datablocks and text: nothing in it
is run. A build either completes or removes what it made, leaving the scene as it was.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import bmesh
import bpy
import mathutils

from ..client.session import ApplyError
from ..core import ideas as idea_rules
from ..core import results
from .names import MAX_NAME_BYTES, datablock_name
from .nodes import find_node, node_tree
from .origin import describe
from .palette import display_to_linear

LIGHT_TYPES = {"point": "POINT", "sun": "SUN", "spot": "SPOT", "area": "AREA"}
_SEGMENTS = 32  # around cylinders, cones, spheres and tori: smooth enough for a block-out


@dataclass
class Built:
    """What building an idea made."""

    collection: bpy.types.Collection
    objects: list = field(default_factory=list)
    lights: list = field(default_factory=list)
    camera: bpy.types.Object | None = None
    world: bpy.types.World | None = None
    text: bpy.types.Text | None = None
    made_scene_camera: bool = False


# --------------------------------------------------------------------------- storing


def checked_ideas(raw_ideas) -> tuple[list[dict], list[str]]:
    """Every idea of ``raw_ideas`` sanitised and schema-valid, and the repairs made.

    ``ApplyError`` names the first idea that cannot be used.
    """
    try:
        return results.checked_ideas(raw_ideas)  # the same check a backend's result had on receipt
    except results.ResultError as exc:
        raise ApplyError(str(exc)) from None


def store_ideas(scene: bpy.types.Scene, raw_ideas, *, prompt: str, engine: str,
                provenance: dict | None = None) -> list[str]:
    """Replace ``scene.atelier.ideas`` with the checked ideas; returns the repairs made.

    ``provenance`` is the suggestion's record, kept with every idea. Nothing changes when one
    idea cannot be used.
    """
    ideas, repairs = checked_ideas(raw_ideas)
    stored = scene.atelier.ideas
    stored.clear()
    for idea in ideas:
        item = stored.add()
        item.name = item.title = idea["title"]
        item.pitch = idea["pitch"]
        item.mood = idea["mood"]
        item.document = json.dumps(idea, ensure_ascii=False, allow_nan=False)
        item.prompt = prompt
        item.engine = engine
        item.provenance = json.dumps(provenance or {}, ensure_ascii=False, allow_nan=False)
    return repairs


def origin(stored, index: int) -> str:
    """Who made ``stored``, the idea at ``index`` of ``scene.atelier.ideas``: the engine, the
    model or built-in template, the seed."""
    return describe(stored.provenance, fallback=stored.engine or "unknown", index=index)


def stored_idea(scene: bpy.types.Scene, index: int) -> tuple[dict, list[str]]:
    """``scene.atelier.ideas[index]`` parsed and checked again (the .blend may come from anyone),
    and the repairs that made it usable."""
    stored = scene.atelier.ideas
    if not stored:
        raise ApplyError("there are no scene ideas yet; suggest some first")
    if not 0 <= index < len(stored):
        raise ApplyError(f"there is no idea {index}; the index runs from 0 to {len(stored) - 1}")
    try:
        return idea_rules.check_idea(stored[index].document)
    except idea_rules.IdeaError as exc:
        raise ApplyError(f"idea {index} ({stored[index].title[:40]!r}) is not a valid scene idea "
                         f"and was not built: {exc}") from None


# A report names this many cleanings and repairs, then counts the rest (a random model's answer
# may need dozens of text fields cleaned).
REPAIRS_NAMED = 8


def repair_note(repairs: list[str]) -> str:
    """A clause for a report naming what was cleaned or repaired ('' when nothing was)."""
    if not repairs:
        return ""
    more = f"; and {len(repairs) - REPAIRS_NAMED} more" if len(repairs) > REPAIRS_NAMED else ""
    return "; cleaned: " + "; ".join(repairs[:REPAIRS_NAMED]) + more


# --------------------------------------------------------------------------- building


def build_idea(scene: bpy.types.Scene, idea: dict, *, source: str = "") -> Built:
    """The idea as a block-out in a new collection named after it; ``source`` goes in its notes.

    Objects get their own materials, lights their type's units (watts; a sun W/m2), the camera
    is aimed at its target and becomes the scene camera when there is none, the world gets a
    new World with the idea's colour and strength, and a Text datablock holds pitch and notes.
    """
    try:
        idea, _ = idea_rules.check_idea(idea)
    except idea_rules.IdeaError as exc:
        raise ApplyError(f"not a valid scene idea: {exc}") from None
    made: list = []
    try:
        built = _build(idea, source, made)
    except Exception:
        _remove(made)
        raise
    # Only now, with everything made, does the scene itself change.
    scene.collection.children.link(built.collection)
    scene.world = built.world
    if scene.camera is None:
        scene.camera = built.camera
        built.made_scene_camera = True
    return built


def _build(idea: dict, source: str, made: list) -> Built:
    title = idea["title"]
    collection = _new(made, bpy.data.collections, datablock_name(title, "Scene Idea"))
    built = Built(collection=collection)
    for spec in idea["objects"]:
        obj = _object(spec, made)
        collection.objects.link(obj)
        built.objects.append(obj)
    for index, spec in enumerate(idea["lights"], start=1):
        obj = _light(spec, part_name(title, f"{spec['type']} light {index}"), made)
        collection.objects.link(obj)
        built.lights.append(obj)
    built.camera = _camera(idea["camera"], part_name(title, "camera"), made)
    collection.objects.link(built.camera)
    built.world = _world(idea["world"], part_name(title, "world"), made)
    built.text = _notes(idea, source, made)
    return built


def part_name(title: str, part: str) -> str:
    """The name of one part of an idea ("<title> camera"), the title cut so the part stays whole."""
    room = MAX_NAME_BYTES - len(part.encode("utf-8")) - 1
    head = datablock_name(title, "Scene Idea").encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return f"{head.rstrip()} {part}"


def _new(made: list, data_collection, name: str, *args):
    block = data_collection.new(name, *args)
    made.append((data_collection, block))
    return block


def _remove(made: list) -> None:
    """Remove what a failed build made, newest first (objects before their data)."""
    for data_collection, block in reversed(made):
        data_collection.remove(block)


def linear(hex_color: str) -> tuple[float, float, float]:
    """A #rrggbb display (sRGB) colour as Blender's scene-linear RGB (the file's colour space)."""
    return tuple(display_to_linear([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)]))


def _place(obj, spec: dict, *, scale: bool = True) -> None:
    obj.location = spec["location"]
    obj.rotation_euler = [math.radians(angle) for angle in spec["rotation"]]
    if scale:
        obj.scale = spec["scale"]


def _object(spec: dict, made: list) -> bpy.types.Object:
    name = datablock_name(spec["name"], "Object")
    primitive = spec["primitive"]
    if primitive == "empty":
        obj = _new(made, bpy.data.objects, name, None)
        obj.empty_display_type = "CUBE"
        obj.empty_display_size = 0.5  # half-size: one metre across at scale 1, like the meshes
        _place(obj, spec)
        return obj
    if primitive == "text":
        data = _new(made, bpy.data.curves, name, "FONT")
        data.body = spec.get("body") or spec["name"]
        data.align_x, data.align_y = "CENTER", "CENTER"
        data.size = spec["scale"][1]
        data.extrude = spec["scale"][2] / 2
    else:
        data = _new(made, bpy.data.meshes, name)
        _fill_mesh(data, primitive)
    data.materials.append(_material(spec["material"], name, made))
    obj = _new(made, bpy.data.objects, name, data)
    _place(obj, spec, scale=primitive != "text")
    return obj


def _fill_mesh(mesh: bpy.types.Mesh, primitive: str) -> None:
    """A primitive one metre across, centred on the origin."""
    bm = bmesh.new()
    try:
        if primitive == "cube":
            bmesh.ops.create_cube(bm, size=1.0)
        elif primitive == "uv_sphere":
            bmesh.ops.create_uvsphere(bm, u_segments=_SEGMENTS, v_segments=_SEGMENTS // 2, radius=0.5)
        elif primitive in ("cylinder", "cone"):
            bmesh.ops.create_cone(bm, cap_ends=True, segments=_SEGMENTS, radius1=0.5,
                                  radius2=0.5 if primitive == "cylinder" else 0.0, depth=1.0)
        elif primitive == "plane":
            bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=0.5)
        elif primitive == "torus":
            _torus(bm, major=0.375, minor=0.125)
        elif primitive == "monkey":
            bmesh.ops.create_monkey(bm)
            _fit_unit(bm)
        else:
            raise ApplyError(f"unknown primitive {primitive!r}")
        bm.to_mesh(mesh)
    finally:
        bm.free()


def _torus(bm, *, major: float, minor: float) -> None:
    # bmesh has no torus operator; a ring of rings, one metre across (2 * (major + minor)) and,
    # like every primitive, one metre high, so the scale alone sets its size: at a Z scale of
    # 2 * minor the tube is round.
    rings, sides = _SEGMENTS, _SEGMENTS // 2
    verts = []
    for i in range(rings):
        u = 2 * math.pi * i / rings
        for j in range(sides):
            v = 2 * math.pi * j / sides
            radius = major + minor * math.cos(v)
            verts.append(bm.verts.new((radius * math.cos(u), radius * math.sin(u), 0.5 * math.sin(v))))
    for i in range(rings):
        for j in range(sides):
            a, b = i * sides + j, ((i + 1) % rings) * sides + j
            c, d = ((i + 1) % rings) * sides + (j + 1) % sides, i * sides + (j + 1) % sides
            bm.faces.new((verts[a], verts[b], verts[c], verts[d]))


def _fit_unit(bm) -> None:
    """Scale and centre ``bm`` so its largest side is one metre (keeps its proportions)."""
    low = [min(v.co[i] for v in bm.verts) for i in range(3)]
    high = [max(v.co[i] for v in bm.verts) for i in range(3)]
    factor = 1.0 / max(high[i] - low[i] for i in range(3))
    centre = mathutils.Vector([(low[i] + high[i]) / 2 for i in range(3)])
    for vert in bm.verts:
        vert.co = (vert.co - centre) * factor


def _material(spec: dict, name: str, made: list) -> bpy.types.Material:
    material = _new(made, bpy.data.materials, name)
    rgb = linear(spec["color"])
    material.diffuse_color = (*rgb, 1.0)  # the solid viewport's colour
    material.roughness = spec["roughness"]
    material.metallic = spec["metallic"]
    node = find_node(node_tree(material), "BSDF_PRINCIPLED")
    if node is not None:
        node.inputs["Base Color"].default_value = (*rgb, 1.0)
        node.inputs["Roughness"].default_value = spec["roughness"]
        node.inputs["Metallic"].default_value = spec["metallic"]
    return material


def _light(spec: dict, name: str, made: list) -> bpy.types.Object:
    # Blender's units match the schema's: watts for point, spot and area lights, and for a sun
    # its strength in W/m2, so the energy passes through unchanged.
    data = _new(made, bpy.data.lights, name, LIGHT_TYPES[spec["type"]])
    data.color = linear(spec["color"])
    data.energy = spec["energy"]
    obj = _new(made, bpy.data.objects, data.name, data)
    _place(obj, spec, scale=False)
    return obj


def _camera(spec: dict, name: str, made: list) -> bpy.types.Object:
    data = _new(made, bpy.data.cameras, name)
    data.lens = spec["lens"]
    obj = _new(made, bpy.data.objects, data.name, data)
    obj.location = spec["location"]
    aim_at(obj, spec["target"])
    return obj


def aim_rotation(location, target) -> mathutils.Euler | None:
    """The XYZ rotation that points a camera's or light's -Z from ``location`` at ``target``,
    Y up; None when the two coincide."""
    direction = mathutils.Vector(target) - mathutils.Vector(location)
    if direction.length == 0:
        return None
    return direction.to_track_quat("-Z", "Y").to_euler("XYZ")


def aim_at(obj: bpy.types.Object, target) -> None:
    """Turn ``obj`` (a camera or light, looking down its -Z) towards ``target``."""
    rotation = aim_rotation(obj.location, target)
    if rotation is not None:
        obj.rotation_euler = rotation


def _world(spec: dict, name: str, made: list) -> bpy.types.World:
    world = _new(made, bpy.data.worlds, name)
    rgb = linear(spec["color"])
    world.color = rgb
    node = find_node(node_tree(world), "BACKGROUND")
    if node is not None:
        node.inputs["Color"].default_value = (*rgb, 1.0)
        node.inputs["Strength"].default_value = spec["strength"]
    return world


def _notes(idea: dict, source: str, made: list) -> bpy.types.Text:
    text = _new(made, bpy.data.texts, part_name(idea["title"], "notes"))
    text.use_module = False  # plain text: never registered or run as a script
    lines = [idea["title"], "", idea["pitch"], "", f"Mood: {idea['mood']}",
             "Palette: " + ", ".join(idea["palette"])]
    if idea["notes"]:
        lines += ["", "Notes:"] + [f"- {note}" for note in idea["notes"]]
    if source:
        lines += ["", source]
    text.write("\n".join(lines) + "\n")
    return text
