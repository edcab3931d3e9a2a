"""Palettes in Blender: create them from a scheme, apply them to a scene, export them.

Colour management: hex values are display (sRGB) colours. Material, light and world inputs
are scene-linear, converted with ``mathutils.Color.from_srgb_to_scene_linear`` (which follows
the file's working colour space). ``PaletteColor.color`` is a display colour in Blender 4.2
(property subtype ``COLOR_GAMMA``) and scene-linear from 5.0 (subtype ``COLOR``); the
subtype decides, so every version reads and writes it correctly.

The mapping (``apply_palette``), one fixed rule:

1. The materials in scope are ranked by the world-space surface area they cover on the
   objects in scope, largest first (ties by name). Objects are visited by name, so the
   result does not depend on selection order.
2. The palette's colours are ranked by role (``core.colors.APPLY_ORDER``): primary, secondary,
   accent, background, highlight, shadow (palette order within a role). A palette without
   roles keeps its order.
3. The n-th material gets the n-th colour, cycling when there are more materials than colours.
   Its Principled BSDF Base Color is set, and its Emission Color when the emission is used
   (strength above 0); the viewport colour follows.
4. A Base Color driven by a texture (a linked input) is left alone and named in the report;
   so is a material without a Principled BSDF, and one linked from a library (a change would
   not be saved with the file). Each still takes its place in the ranking.
5. A material also used by objects outside the scope is copied for the objects in scope
   (``COPY``) or left alone (``SKIP``). Light data shared with lights outside the scope, and
   a world shared with another scene, are treated the same way.
6. With ``include_world`` the world background takes the background colour (else the last
   colour of the ranking); with ``include_lights`` the lights in scope take the highlight
   colour (else the lightest).

Everything is checked before anything changes, so a refused apply leaves the scene as it was.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import bpy
import mathutils

from ..core.colors import APPLY_ORDER
from ..core.results import PaletteScheme, ResultError, palette_scheme
from .names import datablock_name
from .nodes import find_node, node_tree, uses_nodes

ROLE_ORDER = APPLY_ORDER  # rule 2 below; defined once in core.colors with the roles
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_NAME_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
MAX_LABEL = 40


class PaletteError(ValueError):
    """A palette that cannot be created or applied; the message says what to change."""


@dataclass
class Swatch:
    """One colour: display hex, name and role ('' when the palette has no roles)."""

    hex: str
    label: str = ""
    role: str = ""

    @property
    def display(self) -> tuple[float, float, float]:
        return tuple(int(self.hex[i:i + 2], 16) / 255.0 for i in (1, 3, 5))

    @property
    def linear(self) -> tuple[float, float, float]:
        return tuple(display_to_linear(self.display))


@dataclass
class ApplyReport:
    """What ``apply_palette`` did, for the operator's report and for scripts."""

    recoloured: list = field(default_factory=list)  # (material name, swatch)
    copied: list = field(default_factory=list)  # (original name, copy name)
    textured: list = field(default_factory=list)  # material names left alone
    linked: list = field(default_factory=list)  # materials and lights from a library: left alone
    no_principled: list = field(default_factory=list)
    shared_skipped: list = field(default_factory=list)
    world: str = ""  # hex set on the world, or why not
    lights: list = field(default_factory=list)  # (light object name, hex)

    def summary(self) -> str:
        parts = [f"recoloured {len(self.recoloured)} material(s)"]
        if self.recoloured:
            parts[0] += ": " + _listing(f"{name} {s.role or 'colour'} {s.hex}" for name, s in self.recoloured)
        if self.copied:
            parts.append("copied shared " + _listing(f"{a} as {b}" for a, b in self.copied))
        if self.shared_skipped:
            parts.append("skipped shared " + _listing(self.shared_skipped))
        if self.textured:
            parts.append("left texture-driven " + _listing(self.textured))
        if self.linked:
            parts.append("left linked from a library (make them local to recolour) " + _listing(self.linked))
        if self.no_principled:
            parts.append("no Principled BSDF in " + _listing(self.no_principled))
        if self.world:
            parts.append(f"world {self.world}")
        if self.lights:
            parts.append("lights " + _listing(f"{n} {h}" for n, h in self.lights))
        return "; ".join(parts)


def _listing(items, limit: int = 6) -> str:
    """A report line stays readable: the first few, then how many more."""
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


# --------------------------------------------------------------------------- colour spaces


def display_to_linear(rgb) -> mathutils.Color:
    return mathutils.Color(rgb).from_srgb_to_scene_linear()


def linear_to_display(rgb) -> mathutils.Color:
    return mathutils.Color(rgb).from_scene_linear_to_srgb()


def is_colour(rgb) -> bool:
    """False when a component is not a number (a script's NaN passes the 0..1 clamp of Blender's
    colour fields, and no hex code can be made of it)."""
    return all(math.isfinite(value) for value in rgb)


def colour_problem(rgb, what: str) -> str:
    """Why ``rgb`` (the ``what``) is no colour ('' when it is: ``is_colour``)."""
    if is_colour(rgb):
        return ""
    return f"{what} ({', '.join(f'{value:g}' for value in rgb)}) is not a colour"


def to_hex(display) -> str:
    return "#" + "".join(f"{round(min(max(v, 0.0), 1.0) * 255):02x}" for v in display)


def palette_stores_display() -> bool:
    """True where ``PaletteColor.color`` is a display colour (Blender 4.x), False where linear."""
    return bpy.types.PaletteColor.bl_rna.properties["color"].subtype == "COLOR_GAMMA"


def set_palette_color(palette_color, display) -> None:
    palette_color.color = display if palette_stores_display() else display_to_linear(display)


def palette_color_hex(palette_color) -> str:
    value = palette_color.color
    return to_hex(value if palette_stores_display() else linear_to_display(value))


# --------------------------------------------------------------------------- creating


def check_scheme(data) -> PaletteScheme:
    """A scheme document (built-in engine output, a script's dict) as a checked ``PaletteScheme``;
    a backend's arrives checked already (``core.results``) and passes through."""
    try:
        return palette_scheme(data)
    except ResultError as exc:
        raise PaletteError(str(exc)) from None


def create_palette(scene, data, *, source: str, provenance: str = "") -> bpy.types.Palette:
    """A new ``bpy.types.Palette`` for the scheme ``data`` (a ``PaletteScheme`` or a scheme
    document), with names and roles recorded in ``scene.atelier.palettes`` under its name."""
    scheme = check_scheme(data)
    title = _NAME_CHARACTERS.sub("", scheme.title).strip()
    swatches = [Swatch(color.hex, _NAME_CHARACTERS.sub("", color.name)[:MAX_LABEL].strip(), color.role)
                for color in scheme.colors]
    palette = bpy.data.palettes.new(datablock_name(title, "Atelier Palette"))
    palette.use_fake_user = True  # kept with the .blend even while no paint mode uses it
    for swatch in swatches:
        set_palette_color(palette.colors.new(), swatch.display)
    palette.colors.active = palette.colors[0]
    info = scene.atelier.palettes.get(palette.name) or scene.atelier.palettes.add()
    info.name = palette.name
    info.title = title
    info.source = source
    info.provenance = provenance
    info.colors.clear()
    for swatch in swatches:
        item = info.colors.add()
        item.hex, item.label = swatch.hex, swatch.label
        if swatch.role:
            item.role = swatch.role
    return palette


def swatches_of(scene, palette: bpy.types.Palette) -> list[Swatch]:
    """The palette's colours as they are now, with names and roles where Atelier recorded them."""
    info = scene.atelier.palettes.get(palette.name)
    known = info is not None and len(info.colors) == len(palette.colors)
    for number, color in enumerate(palette.colors, start=1):
        problem = colour_problem(color.color, f"colour {number} of palette {palette.name!r}")
        if problem:
            raise PaletteError(f"{problem}; pick that colour again in the palette")
    return [Swatch(palette_color_hex(c), info.colors[i].label if known else "",
                   info.colors[i].role if known else "")
            for i, c in enumerate(palette.colors)]


# --------------------------------------------------------------------------- applying


def ranked_swatches(swatches: list[Swatch]) -> list[Swatch]:
    """Swatches in the order materials receive them (rule 2 of the module docstring)."""
    if not any(s.role for s in swatches):
        return list(swatches)
    return sorted(swatches, key=lambda s: ROLE_ORDER.index(s.role) if s.role else len(ROLE_ORDER))


def objects_in_scope(context, scope: str) -> list:
    if scope == "SCENE":
        objects = context.scene.objects
    elif scope == "SELECTED":
        objects = context.selected_objects
    else:
        raise PaletteError(f"unknown scope {scope!r}; use 'SELECTED' or 'SCENE'")
    # By name: areas are summed in this order, so the ranking never depends on selection order.
    return sorted(objects, key=lambda o: o.name_full)


# Object types whose evaluated geometry is a surface that shows materials.
SURFACE_TYPES = {"MESH", "CURVE", "SURFACE", "FONT", "META"}


def material_areas(objects) -> dict:
    """World-space surface area each material covers on ``objects``: the surface they show after
    modifiers, so curves, text and metaballs count as well as meshes."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    areas: dict = {}
    for obj in objects:
        if obj.type not in SURFACE_TYPES or not obj.material_slots:
            continue
        slots = [slot.material for slot in obj.material_slots]
        for material in slots:
            if material is not None:
                areas.setdefault(material, 0.0)
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        try:
            for index, area in _areas_by_material_index(mesh, obj.matrix_world).items():
                if index < len(slots) and slots[index] is not None:
                    areas[slots[index]] += area
        finally:
            evaluated.to_mesh_clear()
    return areas


def _areas_by_material_index(mesh, matrix_world) -> dict[int, float]:
    import numpy as np

    if mesh is None:
        return {}
    mesh.calc_loop_triangles()
    count = len(mesh.loop_triangles)
    if count == 0:
        return {}
    corners = np.empty(count * 3, dtype=np.int32)
    mesh.loop_triangles.foreach_get("vertices", corners)
    faces = np.empty(count, dtype=np.int32)
    mesh.loop_triangles.foreach_get("material_index", faces)
    points = np.empty(len(mesh.vertices) * 3, dtype=np.float64)
    mesh.vertices.foreach_get("co", points)
    matrix = np.array(matrix_world)
    world = points.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3]
    a, b, c = (world[corners.reshape(-1, 3)[:, k]] for k in range(3))
    tri_area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    return {int(index): float(tri_area[faces == index].sum()) for index in np.unique(faces)}


def _users_outside(material, scope_objects: set) -> list:
    return [o for o in bpy.data.objects if o not in scope_objects
            and any(slot.material == material for slot in o.material_slots)]


def apply_palette(context, palette: bpy.types.Palette, *, scope: str = "SELECTED",
                  include_world: bool = False, include_lights: bool = False,
                  shared: str = "COPY") -> ApplyReport:
    """Recolour the scene by the module's mapping; returns what was done.

    Raises ``PaletteError`` (and changes nothing) when there is nothing to apply.
    """
    if shared not in ("COPY", "SKIP"):
        raise PaletteError(f"unknown shared mode {shared!r}; use 'COPY' or 'SKIP'")
    swatches = swatches_of(context.scene, palette)
    if not swatches:
        raise PaletteError(f"palette {palette.name!r} has no colours")
    objects = objects_in_scope(context, scope)
    areas = material_areas(objects)
    lights = [o for o in objects if o.type == "LIGHT"] if include_lights else []
    if not areas and not lights and not include_world:
        raise PaletteError("nothing to recolour: no material on the "
                           + ("selected objects" if scope == "SELECTED" else "scene's objects")
                           + "; select objects with materials or use scope 'SCENE'")
    ranked = ranked_swatches(swatches)
    report = ApplyReport()
    in_scope = set(objects)
    order = sorted(areas, key=lambda m: (-areas[m], m.name_full))
    for n, material in enumerate(order):
        swatch = ranked[n % len(ranked)]
        if not _recolourable(material, report):
            continue  # still holds its rank: the mapping does not shift around it
        target = material
        if _users_outside(material, in_scope):
            if shared == "SKIP":
                report.shared_skipped.append(material.name)
                continue
            target = _copy_for(material, objects)
            report.copied.append((material.name, target.name))
        _recolour(target, swatch, report)
    if include_world:
        background = next((s for s in ranked if s.role == "background"), ranked[-1])
        report.world = _set_world(context.scene, background, shared, report)
    if lights:
        lightest = _lightest(ranked)
        for obj in lights:
            _set_light(obj, lightest, in_scope, shared, report)
    return report


def _copy_for(material, objects):
    """A copy of ``material`` put in every slot of ``objects`` that holds it."""
    copy = material.copy()
    for obj in objects:
        for slot in obj.material_slots:
            if slot.material != material:
                continue
            if slot.link == "DATA" and obj.data.users > 1 and any(
                    o.data == obj.data for o in bpy.data.objects if o not in objects):
                slot.link = "OBJECT"  # the mesh is shared too: override on this object only
            slot.material = copy
    return copy


def _principled(material):
    if not uses_nodes(material):
        return None
    return find_node(material.node_tree, "BSDF_PRINCIPLED")


def _recolourable(material, report: ApplyReport) -> bool:
    """False (and noted in the report) for a material linked from a library (a change would not
    be saved), a texture-driven or a non-Principled one."""
    if not material.is_editable:
        report.linked.append(material.name)
        return False
    node = _principled(material)
    if node is None:
        report.no_principled.append(material.name)
        return False
    if node.inputs["Base Color"].is_linked:
        report.textured.append(material.name)
        return False
    return True


def _recolour(material, swatch: Swatch, report: ApplyReport) -> None:
    node = _principled(material)
    linear = swatch.linear
    node.inputs["Base Color"].default_value = (*linear, 1.0)
    emission = node.inputs.get("Emission Color")
    strength = node.inputs.get("Emission Strength")
    if emission is not None and strength is not None and not emission.is_linked and (
            strength.is_linked or strength.default_value > 0.0):
        emission.default_value = (*linear, 1.0)
    material.diffuse_color = (*linear, material.diffuse_color[3])
    report.recoloured.append((material.name, swatch))


def _lightest(ranked: list[Swatch]) -> Swatch:
    # coloraide: OKLab lightness, a perceptual measure (bundled wheel).
    from coloraide import Color

    chosen = next((s for s in ranked if s.role == "highlight"), None)
    return chosen or max(ranked, key=lambda s: Color(s.hex).convert("oklab")["lightness"])


def _set_world(scene, swatch: Swatch, shared: str, report: ApplyReport) -> str:
    world = scene.world
    if world is None:
        world = bpy.data.worlds.new("World")
        scene.world = world
    elif not world.is_editable:
        return f"{world.name} left alone (linked from a library; make it local to recolour)"
    elif any(other.world == world for other in bpy.data.scenes if other != scene):
        if shared == "SKIP":
            return f"{world.name} left alone (shared with another scene)"
        scene.world = world.copy()
        report.copied.append((world.name, scene.world.name))
        world = scene.world
    background = find_node(node_tree(world), "BACKGROUND")
    if background is None:
        return f"{world.name} left alone (no Background node)"
    if background.inputs["Color"].is_linked:
        return f"{world.name} left alone (its colour comes from a texture)"
    background.inputs["Color"].default_value = (*swatch.linear, 1.0)
    world.color = swatch.linear
    return f"{swatch.hex}"


def _set_light(obj, swatch: Swatch, in_scope: set, shared: str, report: ApplyReport) -> None:
    light = obj.data
    if not light.is_editable:
        report.linked.append(light.name)
        return
    if any(o.data == light for o in bpy.data.objects if o not in in_scope):
        if shared == "SKIP":
            report.shared_skipped.append(light.name)
            return
        light = light.copy()
        report.copied.append((obj.data.name, light.name))
        for o in in_scope:
            if o.type == "LIGHT" and o.data == obj.data:
                o.data = light
    light.color = swatch.linear
    report.lights.append((obj.name, swatch.hex))
