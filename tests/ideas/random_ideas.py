"""Scene ideas drawn at random over the schema's whole range, as a random-weight model writes
them: for the tests that every repaired idea is valid and framed, in core and in Blender."""

import copy
import random

from core.ideas import SCHEMA_VERSION


def solid(name, location, scale=(1, 1, 1), primitive="cube", **extra) -> dict:
    """An object of an idea: a grey ``primitive`` at ``location``, ``scale`` metres across."""
    return {"name": name, "primitive": primitive, "location": list(location), "rotation": [0, 0, 0],
            "scale": list(scale), "material": {"color": "#808080", "roughness": 0.5, "metallic": 0}, **extra}


def random_idea(rng: random.Random) -> dict:
    """A schema-valid idea drawn over the schema's whole range, as a random model writes."""
    spread = rng.choice([0.5, 5, 40, 100])
    primitives = ["cube", "uv_sphere", "cylinder", "cone", "plane", "torus", "monkey", "text", "empty"]

    def where(reach=spread):
        return [rng.uniform(-reach, reach) for _ in range(3)]

    objects = [solid(f"Thing {i}", where(), [rng.uniform(0.01, 50) for _ in range(3)], rng.choice(primitives))
               for i in range(rng.choice([1, 2, 3, 12, 64]))]
    for obj in objects:
        obj["rotation"] = [rng.uniform(-360, 360) for _ in range(3)]
        if obj["primitive"] == "text":
            obj["body"] = "Text " * rng.randint(1, 11)
    if rng.random() < 0.3:
        objects += copy.deepcopy(objects[:3])
    return {"schema_version": SCHEMA_VERSION, "title": "Noise", "pitch": "Noise.", "mood": "none",
            "palette": ["#808080"],
            "lights": [{"type": rng.choice(["sun", "point", "spot", "area"]), "color": "#ffffff",
                        "energy": rng.uniform(0, 10000), "location": where(100), "rotation": [0, 0, 0]}
                       for _ in range(rng.randint(1, 8))],
            "camera": {"lens": rng.uniform(8, 300), "location": where(100), "target": where(100)},
            "world": {"color": "#000000", "strength": 1}, "objects": objects[:64], "notes": []}
