"""Scene ideas from block-out templates: the built-in ideas engine.

    suggest_ideas(prompt, count=3, seed=None) -> (ideas, provenance)

The prompt's words rank the templates of ``scene_templates.json`` (product shot, interior,
alley, landscape, still life, portrait, sci-fi corridor); each idea is one template coloured
by a palette of the prompt (``palette.make_palette``) and written as a document of
``core/schemas/scene_idea.json``, checked by the same ``core.ideas`` as model
ideas, so the same applier builds them.
"""

from __future__ import annotations

import math
from functools import cache

from ..apply.scene_idea import aim_rotation
from ..core import ideas as idea_rules
from ..core.protocol import random_seed
from . import palette, provenance, words

PALETTE_SIZE = 6  # one colour per palette role
_PITCH_LENGTH = 600


@cache
def templates() -> dict[str, dict]:
    """Template id -> template, in the file's order (earlier wins a tie)."""
    return words.load_json("scene_templates.json")["templates"]


def rank_templates(prompt: str) -> list[str]:
    """Every template id, those whose words the prompt uses most first; ties keep file order."""
    tokens = [t for token in words.tokens(prompt) for t in {token, words.singular(token)}]
    order = list(templates())
    score = {tid: sum(token in spec["words"] for token in tokens) for tid, spec in templates().items()}
    return sorted(order, key=lambda tid: (-score[tid], order.index(tid)))


def suggest_ideas(prompt: str, count: int = 3, seed: int | None = None) -> tuple[list[dict], dict]:
    """``count`` scene ideas (different templates, best match first) and their provenance.

    Raises ValueError, saying what to change, for an empty or overlong prompt or a count
    outside 1 to 5."""
    problems = idea_rules.request_problems(prompt, count)
    if problems:
        raise ValueError("; ".join(problems))
    if seed is None:
        seed = random_seed()
    ranked = rank_templates(prompt)[:count]
    ideas = []
    for index, template_id in enumerate(ranked):
        colors, _ = palette.make_palette(f"{prompt} {templates()[template_id]['palette_words']}",
                                         PALETTE_SIZE, seed + index)
        idea, _ = idea_rules.check_idea(build_idea(template_id, colors, prompt))
        ideas.append(idea)
    record = provenance.record("ideas", parameters={"prompt": prompt, "count": count, "seed": seed},
                               template=ranked, seed=seed)
    return ideas, record


def build_idea(template_id: str, colors: dict, prompt: str) -> dict:
    """The template as a scene-idea document, '@role' colours taken from the palette ``colors``."""
    spec = templates()[template_id]
    by_role: dict[str, str] = {}
    for color in colors["colors"]:
        by_role.setdefault(color["role"], color["hex"])

    def color_of(value: str) -> str:
        return by_role.get(value[1:], by_role["primary"]) if value.startswith("@") else value

    pitch = f"{spec['pitch']} Drafted for: {prompt.strip()}"
    return {
        "schema_version": idea_rules.SCHEMA_VERSION,
        "title": spec["title"],
        "pitch": pitch[:_PITCH_LENGTH].rstrip(),
        "mood": spec["mood"],
        "palette": [color["hex"] for color in colors["colors"]],
        "lights": [
            {"type": light["type"], "color": color_of(light["color"]), "energy": light["energy"],
             "location": light["location"], "rotation": _aim(light["location"], light["target"])}
            for light in spec["lights"]
        ],
        "camera": dict(spec["camera"]),
        "world": {"color": color_of(spec["world"]["color"]), "strength": spec["world"]["strength"]},
        "objects": [
            {"name": obj["name"], "primitive": obj["primitive"], "location": obj["location"],
             "rotation": obj.get("rotation", [0.0, 0.0, 0.0]), "scale": obj["scale"],
             "material": {"color": color_of(obj["color"]), "roughness": obj.get("roughness", 0.5),
                          "metallic": obj.get("metallic", 0.0)}}
            for obj in spec["objects"]
        ],
        "notes": list(spec["notes"]),
    }


def _aim(location: list[float], target: list[float]) -> list[float]:
    """XYZ Euler degrees that point a light's -Z axis (where Blender lights shine) at ``target``."""
    return [round(math.degrees(angle), 3) for angle in aim_rotation(location, target)]
