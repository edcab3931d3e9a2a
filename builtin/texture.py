"""Procedural materials from the prompt: the built-in texture engine.

Public entry point (the texture operator calls it when the resolved model is ``builtin``)::

    apply_procedural_material(context, objects, prompt, seed=None, style='') -> (material, provenance)

The prompt's material words pick one recipe from ``texture_recipes.json`` and its colour words
tint the recipe's colours. The recipe is built from Blender's own procedural nodes on a
Principled BSDF, so the result is editable and resolution independent; the seed shifts the
texture space so two seeds give two different stones of the same kind.
"""

from __future__ import annotations

import math
import random
from functools import cache

import bpy
import mathutils

# coloraide: a maintained colour-science library (OKLCh for tinting recipe colours).
from coloraide import Color

from ..apply.nodes import node_tree
from ..apply.texture import assign_material, can_hold_material, store_provenance
from ..core.protocol import random_seed
from . import provenance, words

RECIPES_FILE = "texture_recipes.json"
# Texture space the seed may shift to: far enough that two seeds share no visible pattern.
SEED_OFFSET_RANGE = 100.0
_ACHROMATIC = 0.02  # OKLCh chroma below which a colour has no meaningful hue
_MIN_L, _MAX_L = 0.03, 0.98  # OKLCh lightness a tinted colour keeps within
# Box projection: each side's Mapping rotation (XYZ Euler, radians) that lays the plane facing
# that way onto XY. Front: Z becomes Y. Side: Y becomes -X and Z becomes Y.
BOX_SIDES = (("top", (0.0, 0.0, 0.0)), ("front", (-math.pi / 2, 0.0, 0.0)),
             ("side", (-math.pi / 2, math.pi / 2, 0.0)))


@cache
def recipes() -> dict[str, dict]:
    """Recipe id -> recipe, in the file's order (earlier recipes win when a prompt names two)."""
    return words.load_json(RECIPES_FILE)["recipes"]


def material_words() -> dict[str, str]:
    """Every material word the engine knows -> the id of the recipe it picks."""
    return {word: recipe_id for recipe_id, recipe in recipes().items() for word in recipe["words"]}


def choose_recipe(prompt: str) -> str:
    """The id of the recipe the prompt's material words name; ValueError when it names none."""
    known = material_words()
    named = {known[w] for token in words.tokens(prompt) for w in (token, words.singular(token))
             if w in known}
    for recipe_id in recipes():
        if recipe_id in named:
            return recipe_id
    raise ValueError(
        f"the prompt {prompt!r} names no material the built-in engine knows; "
        f"add one of: {', '.join(recipes())} (for example 'red brick wall')")


def recipe_colors(recipe: dict, prompt: str) -> dict[str, str]:
    """The recipe's colours (role -> sRGB hex), tinted towards the prompt's first colour word.

    The recipe's first ``tint`` role moves towards the named colour by the recipe's
    ``tint_strength`` (its chroma capped at ``max_chroma``: a red brick is not neon red); the
    other tinted roles keep their hue offset, chroma ratio and lightness distance from it, so
    mortar stays distinct and veins stay visible. Where keeping the distance would leave the
    visible range, the role goes the other way (the veins of black marble are light)."""
    colors = dict(recipe["colors"])
    named = words.find_colors(prompt)
    if not named or not recipe.get("tint"):
        return colors
    target = Color(named[0].hex).convert("oklch")
    strength = recipe.get("tint_strength", 0.8)
    key = Color(colors[recipe["tint"][0]]).convert("oklch")
    key_l, key_c, key_h = key["lightness"], key["chroma"], key.get("hue", nans=False)
    new_l = key_l + (target["lightness"] - key_l) * strength
    new_c = min(key_c + (target["chroma"] - key_c) * strength, recipe.get("max_chroma", 1.0))
    # A grey target keeps the material's own hue; a grey key takes the target's.
    new_h = target.get("hue", nans=False) if target["chroma"] >= _ACHROMATIC else key_h
    for role in recipe["tint"]:
        color = Color(colors[role]).convert("oklch")
        if key_c >= _ACHROMATIC:
            chroma = color["chroma"] * new_c / key_c
            hue = color.get("hue", nans=False) + (new_h - key_h)
        else:
            chroma, hue = new_c, new_h
        offset = color["lightness"] - key_l
        lightness = new_l + offset
        if not _MIN_L <= lightness <= _MAX_L:
            lightness = new_l - offset
        color["lightness"] = min(_MAX_L, max(_MIN_L, lightness))
        color["chroma"] = max(0.0, chroma)
        color["hue"] = hue % 360.0
        colors[role] = color.convert("srgb").fit("srgb").to_string(hex=True)
    return colors


def build_material(material: bpy.types.Material, recipe_id: str, colors: dict[str, str],
                   seed: int) -> None:
    """Replace ``material``'s nodes with the recipe's node tree on a Principled BSDF.

    Every recipe gets the same frame: Texture Coordinate (Object) -> Mapping (offset by the
    seed) -> the recipe's nodes -> Principled BSDF -> Material Output. Recipe nodes link to
    ``mapping.Vector``; ``bsdf`` inputs name the Principled BSDF's sockets. A recipe with
    ``"projection": "box"`` (flat patterns such as bricks, which Blender lays out in X and Y
    only) is built three times, facing along Z, Y and X, and blended by the surface's
    object-space normal, so the pattern sits right on every side of a cube or sphere."""
    recipe = recipes()[recipe_id]
    tree = node_tree(material)
    tree.nodes.clear()
    coords = tree.nodes.new("ShaderNodeTexCoord")
    mapping = tree.nodes.new("ShaderNodeMapping")
    tree.links.new(coords.outputs["Object"], mapping.inputs["Vector"])
    mapping.label = "Seed offset"  # move Location to see another stretch of the same material
    rng = random.Random(seed)
    mapping.inputs["Location"].default_value = [rng.uniform(-SEED_OFFSET_RANGE, SEED_OFFSET_RANGE)
                                                for _ in range(3)]
    bsdf = tree.nodes.new("ShaderNodeBsdfPrincipled")
    output = tree.nodes.new("ShaderNodeOutputMaterial")
    tree.links.new(bsdf.outputs["BSDF"], output.inputs["Surface"])

    if recipe.get("projection") == "box":
        copies = [_build_recipe(tree, recipe, colors, _facing(tree, mapping, side, rotation), side)
                  for side, rotation in BOX_SIDES]
        weights = _box_weights(tree, coords)
    else:
        copies = [_build_recipe(tree, recipe, colors, mapping, "")]
    for socket_name, value in recipe["bsdf"].items():
        if _is_link(value):
            sources = [_output(nodes, value) for nodes in copies]
            target = _socket(bsdf.inputs, socket_name, bsdf)
            source = sources[0] if len(sources) == 1 else _blend(tree, sources, weights, target.type)
            tree.links.new(source, target)
        else:
            _set_input(tree, copies[0], bsdf, socket_name, value, colors)
    _arrange(tree)


def apply_procedural_material(context: bpy.types.Context, objects, prompt: str,
                              seed: int | None = None, style: str = "") -> tuple[bpy.types.Material, dict]:
    """Build a procedural material for ``prompt`` and put it in each object's active slot.

    ``objects``: the objects to receive it; those that cannot hold materials (lights,
    cameras, empties) are skipped. ``seed``: None picks one (recorded in the provenance).
    ``style``: the style library's name that expanded ``prompt`` ('' = none), recorded only.
    Returns the new material and its provenance record (engine ``builtin``). Raises
    ValueError, with a message saying what to change, before touching the scene when the
    prompt names no known material or no object can hold a material."""
    recipe_id = choose_recipe(prompt)
    targets = [obj for obj in objects if can_hold_material(obj)]
    if not targets:
        raise ValueError("none of the objects can hold a material; select a mesh, curve or text object")
    if seed is None:
        seed = random_seed()
    colors = recipe_colors(recipes()[recipe_id], prompt)
    material = context.blend_data.materials.new(f"{recipes()[recipe_id]['label']} (built-in)")
    try:
        build_material(material, recipe_id, colors, seed)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a recipe file edited wrongly
        context.blend_data.materials.remove(material)
        raise ValueError(f"the recipe {recipe_id!r} in {RECIPES_FILE} is broken: {exc}") from exc
    record = provenance.record(
        "texture", parameters={"prompt": prompt, "recipe": recipe_id, "seed": seed, "colors": colors,
                               "style": style},
        recipe=recipe_id, seed=seed)
    # The record travels with the material, so a saved .blend says how it was made.
    store_provenance(material, record)
    for obj in targets:
        assign_material(obj, material, undo=[])  # nothing can fail past here: no undo needed
    return material, record


# --------------------------------------------------------------------------- interpreting


def _build_recipe(tree, recipe: dict, colors, mapping, prefix: str) -> dict:
    """The recipe's nodes reading ``mapping``; returns name -> node (``mapping`` included)."""
    nodes = {"mapping": mapping}
    for name, spec in recipe["nodes"].items():
        node = nodes[name] = tree.nodes.new(spec["type"])
        node.name = node.label = f"{prefix} {name}".strip()
        for prop, value in spec.get("props", {}).items():
            setattr(node, prop, value)
    for name, spec in recipe["nodes"].items():
        node = nodes[name]
        if "ramp" in spec:
            _fill_ramp(node.color_ramp, spec["ramp"], colors)
        for socket_name, value in spec.get("inputs", {}).items():
            _set_input(tree, nodes, node, socket_name, value, colors)
    return nodes


def _facing(tree, mapping, side: str, rotation) -> bpy.types.Node:
    """A Mapping that turns the plane facing ``side`` onto the XY plane flat patterns read."""
    turn = tree.nodes.new("ShaderNodeMapping")
    turn.name = turn.label = f"{side} projection"
    turn.inputs["Rotation"].default_value = rotation
    tree.links.new(mapping.outputs["Vector"], turn.inputs["Vector"])
    return turn


def _box_weights(tree, coords) -> tuple:
    """(share of the side copy against the front copy, share of the top copy) from the
    object-space normal; the fourth power keeps the blend seams narrow."""
    absolute = _math(tree, "ShaderNodeVectorMath", "ABSOLUTE", coords.outputs["Normal"])
    squared = _math(tree, "ShaderNodeVectorMath", "MULTIPLY", absolute.outputs[0], absolute.outputs[0])
    fourth = _math(tree, "ShaderNodeVectorMath", "MULTIPLY", squared.outputs[0], squared.outputs[0])
    axes = tree.nodes.new("ShaderNodeSeparateXYZ")
    tree.links.new(fourth.outputs[0], axes.inputs[0])
    x, y, z = axes.outputs
    around = _math(tree, "ShaderNodeMath", "ADD", x, y)
    total = _math(tree, "ShaderNodeMath", "ADD", around.outputs[0], z)
    side_share = _math(tree, "ShaderNodeMath", "DIVIDE", x, around.outputs[0])  # 0 where x + y is 0
    top_share = _math(tree, "ShaderNodeMath", "DIVIDE", z, total.outputs[0])
    return side_share.outputs[0], top_share.outputs[0]


def _math(tree, kind: str, operation: str, *inputs) -> bpy.types.Node:
    node = tree.nodes.new(kind)
    node.operation = operation
    for socket, source in zip(node.inputs, inputs, strict=False):
        tree.links.new(source, socket)
    return node


def _blend(tree, sources, weights, socket_type: str):
    """The three box copies of one output mixed by the normal's weights (top, front, side)."""
    top, front, side = sources
    side_share, top_share = weights
    data_type = {"RGBA": "RGBA", "VECTOR": "VECTOR"}.get(socket_type, "FLOAT")
    around = _mix(tree, data_type, side_share, front, side)
    return _mix(tree, data_type, top_share, around, top)


def _mix(tree, data_type: str, factor, a, b):
    node = tree.nodes.new("ShaderNodeMix")
    node.data_type = data_type
    tree.links.new(factor, _socket(node.inputs, "Factor", node))
    tree.links.new(a, _socket(node.inputs, "A", node))
    tree.links.new(b, _socket(node.inputs, "B", node))
    return _socket(node.outputs, "Result", node)


def _is_link(value) -> bool:
    return isinstance(value, str) and value[0] not in "@#"


def _output(nodes: dict, value: str):
    source, _, output = value.partition(".")
    return _socket(nodes[source].outputs, output, nodes[source])


def _socket(sockets, name: str, node: bpy.types.Node):
    """A socket by identifier, else by name among the sockets the node's mode shows (the Mix
    node holds A and B sockets for every data type; only the current type's are enabled)."""
    for socket in sockets:
        if socket.identifier == name:
            return socket
    for socket in sockets:
        if socket.name == name and socket.enabled:
            return socket
    raise KeyError(f"node {node.name!r} ({node.bl_idname}) has no socket {name!r}")


def _color(value: str, colors: dict[str, str]) -> list[float]:
    """'@role' or '#rrggbb' (sRGB) -> scene-linear RGBA for a node socket."""
    hex_color = colors[value[1:]] if value.startswith("@") else value
    srgb = mathutils.Color(Color(hex_color).convert("srgb")[:3])
    linear = srgb.from_srgb_to_scene_linear()
    return [linear.r, linear.g, linear.b, 1.0]


def _set_input(tree, nodes, node, socket_name: str, value, colors) -> None:
    """A recipe input: a number or vector, a colour ('@role', '#hex') or a link ('node.socket')."""
    socket = _socket(node.inputs, socket_name, node)
    if _is_link(value):
        tree.links.new(_output(nodes, value), socket)
    elif isinstance(value, str):
        socket.default_value = _color(value, colors)
    else:
        socket.default_value = value


def _fill_ramp(ramp, spec: dict, colors) -> None:
    """Colour Ramp stops: ``[[position, '@role' | '#hex' | grey], ...]``."""
    ramp.interpolation = spec.get("interpolation", "LINEAR")
    stops = spec["stops"]
    elements = ramp.elements
    while len(elements) < len(stops):
        elements.new(0.5)
    for element, (position, value) in zip(elements, stops, strict=True):
        element.position = position
        element.color = _color(value, colors) if isinstance(value, str) else [value, value, value, 1.0]


def _arrange(tree) -> None:
    """Lay nodes out in columns by link depth so the tree reads left to right when edited."""
    depth = {node: 0 for node in tree.nodes}
    for _ in range(len(depth)):
        changed = False
        for link in tree.links:
            if depth[link.to_node] < depth[link.from_node] + 1:
                depth[link.to_node] = depth[link.from_node] + 1
                changed = True
        if not changed:
            break
    rows: dict[int, int] = {}
    for node in tree.nodes:
        column = depth[node]
        node.location = (column * 260.0, -rows.get(column, 0) * 300.0)
        rows[column] = rows.get(column, 0) + 1
