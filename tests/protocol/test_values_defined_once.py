"""Each value is defined once; where a copy must stay (JSON schemas, PROTOCOL.md, Blender menus
that keep their stored order), a test here ties it to the Python source."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from backend import cli, models
from backend.tasks import texture
from core import colors, families, limits, maps_models, protocol, texture_models
from core.errors import TaskError

CORE = Path(protocol.__file__).parent
DOC = (CORE / "PROTOCOL.md").read_text(encoding="utf-8")


def schema(name: str) -> dict:
    return json.loads((CORE / "schemas" / name).read_text(encoding="utf-8"))


def doc_row(field: str, context: str) -> str:
    """The PROTOCOL.md table row documenting ``field`` of the message whose rows follow ``context``."""
    rows = DOC.split(context, 1)[1].splitlines()
    return next(row for row in rows if row.startswith(f"| | `{field}` |"))


def choices(command: str, option: str) -> tuple:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return tuple(next(a for a in sub._actions if option in a.option_strings).choices)


# --------------------------------------------------------------------------- roles and rules


def test_the_palette_schema_lists_exactly_the_roles_and_colour_counts():
    colours = schema("palette.json")["properties"]["colors"]
    assert colours["items"]["properties"]["role"]["enum"] == list(colors.ROLES)
    assert (colours["minItems"], colours["maxItems"]) == (colors.MIN_COLORS, colors.MAX_COLORS)
    assert f"{colors.MIN_COLORS} to {colors.MAX_COLORS}" in schema("palette.json")["description"]


def test_the_apply_order_ranks_every_role_once_primary_first():
    ranks = sorted(detail.apply_rank for detail in colors.ROLE_DETAILS.values())
    assert ranks == list(range(len(colors.ROLES)))
    assert sorted(colors.APPLY_ORDER) == sorted(colors.ROLES) and colors.APPLY_ORDER[0] == "primary"


def test_the_palette_prompt_explains_every_role():
    from core import palette_prompt

    for role, detail in colors.ROLE_DETAILS.items():
        assert f"{role} ({detail.meaning})" in palette_prompt.SYSTEM_PROMPT


def test_protocol_doc_and_cli_list_the_harmony_rules_sources_and_seamless_modes():
    palette_rows = "| `palette` |"
    assert re.findall(r"`(\w+)`", doc_row("harmony", palette_rows))[1:] == list(colors.HARMONY_RULES)
    sources = doc_row("source", palette_rows).split("|")[5]
    assert re.findall(r"`(\w+)`", sources) == list(protocol.PALETTE_SOURCES)
    modes = doc_row("seamless", "| `texture` |").split("|")[5].split(":")[0]
    assert re.findall(r"`(\w+)`", modes) == list(protocol.SEAMLESS_MODES)
    assert choices("palette", "--harmony") == tuple(colors.HARMONY_RULES)
    assert choices("palette", "--source") == protocol.PALETTE_SOURCES
    assert choices("texture", "--seamless") == protocol.SEAMLESS_MODES


# --------------------------------------------------------------------------- families and defaults


def test_the_size_multiple_suits_every_family_and_the_size_limits():
    multiples = [family.size_multiple for family in families.FAMILIES.values()]
    assert families.SIZE_MULTIPLE == math.lcm(*multiples) == 16
    assert limits.MIN_SIZE % families.SIZE_MULTIPLE == 0
    assert limits.DEFAULT_MAX_SIZE % families.SIZE_MULTIPLE == 0
    assert all(name == family.name for name, family in families.FAMILIES.items())


def test_the_backend_reads_the_families_and_defaults_from_core():
    assert texture.FAMILIES is families.FAMILIES and texture.Family is families.Family
    assert models.example_model("texture") == families.DEFAULT_TEXTURE_MODEL
    assert models.example_model("text") == families.DEFAULT_TEXT_MODEL


def test_protocol_doc_states_the_defaults_and_ranges_of_the_source():
    from core import ideas

    assert f"`{families.DEFAULT_TEXTURE_MODEL}`" in doc_row("model", "| `texture` |")
    assert f"`{families.DEFAULT_TEXT_MODEL}`" in doc_row("model", "| `ideas` |")
    multiples = sorted({family.size_multiple for family in families.FAMILIES.values()})
    flux = families.FAMILIES["flux-dev"].size_multiple
    assert f"multiple of {multiples[0]} ({flux} for FLUX)" in DOC.split("| | `width`, `height` |")[1]
    assert multiples == [multiples[0], flux]
    assert f"| 0 … {texture.MAX_GUIDANCE:g} |" in doc_row("guidance", "| `texture` |")
    palette_count = f"| {protocol.PaletteRequest.count} | number of colours, {colors.MIN_COLORS} to "
    assert palette_count + f"{colors.MAX_COLORS}" in doc_row("count", "| `palette` |")
    ideas_count = f"| {protocol.IdeasRequest.count} | number of ideas, {ideas.MIN_IDEAS} to {ideas.MAX_IDEAS}"
    assert ideas_count in doc_row("count", "| `ideas` |")


def test_models_imports_no_task_so_the_import_circle_is_gone():
    code = ("import sys, backend.models; "
            "print(sorted(m for m in sys.modules if m.startswith('backend.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=CORE.parent).stdout
    assert out.strip() == "['backend.models']"


def _pipe(native: int) -> SimpleNamespace:
    return SimpleNamespace(default_sample_size=native // 8, vae_scale_factor=8)


@pytest.mark.parametrize("name", ["flux-dev", "flux-schnell"])
def test_a_size_one_family_cannot_make_is_refused_naming_the_family_and_the_fix(name, tmp_path):
    request = protocol.TextureRequest(id="t", prompt="moss", width=520, output_dir=str(tmp_path))
    texture.check_request(request)  # a multiple of 8 suits some family: no refusal before loading
    with pytest.raises(TaskError) as caught:
        texture.resolve_settings(request, _pipe(1024), families.FAMILIES[name])
    assert caught.value.code == "bad_request"
    assert f"width must be a multiple of 16 for {name} models, got 520" in str(caught.value)
    assert caught.value.hint == "use 512 or 528"
    sd = texture.resolve_settings(request, _pipe(512), families.FAMILIES["sd"])
    assert sd["width"] == 520


def test_a_size_no_family_can_make_is_refused_before_any_model_loads(tmp_path):
    request = protocol.TextureRequest(id="t", prompt="moss", height=100, output_dir=str(tmp_path))
    with pytest.raises(TaskError, match="height must be a multiple of 8, got 100") as caught:
        texture.check_request(request)
    assert caught.value.hint == "use 96 or 104"


def _readme_table(header: str) -> dict[str, list[str]]:
    """The README table whose header row is ``header``: the first name in backticks in each row
    (the model id) -> that row's cells."""
    readme = (CORE.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split(header, 1)[1].split("\n\n", 1)[0]
    lines = table.strip().splitlines()[1:]
    return {re.search(r"`([^`]+)`", line).group(1): [cell.strip() for cell in line.strip("|").split("|")]
            for line in lines}


def test_the_readme_model_table_states_the_licence_download_and_gpu_memory_of_the_source():
    rows = _readme_table("| Model | Licence | Download | GPU memory | Where |")
    assert list(rows) == [model.id for model in texture_models.TEXTURE_MODELS]
    for model in texture_models.TEXTURE_MODELS:
        _, licence, download, gpu, _ = rows[model.id]
        stated = (model.licence, f"{model.download_gb:g} GB", f"{model.gpu_gib:g} GiB")
        assert (licence, download, gpu) == stated, model.id
    assert rows[families.DEFAULT_TEXTURE_MODEL][0].endswith("(default)")
    assert [model_id for model_id, cells in rows.items() if "(lighter, for small GPUs)" in cells[0]] == \
        [texture_models.LIGHTER.id]


def test_the_readme_marigold_table_states_each_part_s_subfolder_maps_and_licence():
    rows = _readme_table("| Part | Hugging Face id | Subfolder | Maps | Licence |")
    assert list(rows) == [part.hub_id for part in maps_models.MARIGOLD_PARTS]
    for part in maps_models.MARIGOLD_PARTS:
        _, _, subfolder, maps, licence = rows[part.hub_id]
        stated = (f"`{part.folder}/`", ", ".join(part.maps), part.licence)
        assert (subfolder, maps, licence) == stated, part.hub_id


# --------------------------------------------------------------------------- Blender's copies


def test_blender_menus_are_built_from_the_core_lists(addon):
    palette_props = addon.properties.palette
    assert [item[0] for item in palette_props.ROLE_ITEMS] == list(colors.ROLES)
    assert [item[0] for item in palette_props.HARMONY_ITEMS] == [r.upper() for r in colors.HARMONY_RULES]
    assert [item[0] for item in palette_props.SOURCE_ITEMS] == [s.upper() for s in protocol.PALETTE_SOURCES]
    assert sorted(palette_props.SOURCE_TEXTS) == sorted(protocol.PALETTE_SOURCES)
    assert sorted(addon.properties.texture.SEAMLESS_TEXTS) == sorted(protocol.SEAMLESS_MODES)
    assert addon.apply.palette.ROLE_ORDER == colors.APPLY_ORDER
    bake_items = [item[0] for item in addon.operators.bake.MAP_ITEMS]
    assert bake_items == list(addon.apply.bake.MAPS) and set(bake_items) <= set(protocol.FILE_ROLES)


def test_blender_defaults_and_sizes_come_from_core(addon):
    prefs = addon.preferences.AtelierPreferences
    assert prefs.bl_rna.properties["texture_model"].default == families.DEFAULT_TEXTURE_MODEL
    assert prefs.bl_rna.properties["text_model"].default == families.DEFAULT_TEXT_MODEL
    for axis in ("width", "height"):
        prop = addon.properties.texture.TextureSettings.bl_rna.properties[axis]
        assert f"multiple of {families.SIZE_MULTIPLE}" in prop.description
        for value in (prop.default, prop.step, prop.hard_min, prop.hard_max):
            assert value % families.SIZE_MULTIPLE == 0, (axis, value)


def test_the_scene_idea_schema_names_only_lights_and_primitives_blender_builds(addon, bpy_module):
    defs = schema("scene_idea.json")["$defs"]
    assert sorted(defs["light"]["properties"]["type"]["enum"]) == sorted(addon.apply.scene_idea.LIGHT_TYPES)
    for primitive in defs["object"]["properties"]["primitive"]["enum"]:
        if primitive in ("text", "empty"):  # not meshes: built as a text curve and an empty
            continue
        mesh = bpy_module.data.meshes.new(f"tie {primitive}")
        try:
            addon.apply.scene_idea._fill_mesh(mesh, primitive)
            assert len(mesh.vertices) > 0, primitive
        finally:
            bpy_module.data.meshes.remove(mesh)
