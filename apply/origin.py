"""How a stored result was made, told from its provenance record for people.

The record may come from anyone's .blend, so only plain values are used, and shortened.
"""

from __future__ import annotations

from ..core.schema import DocumentError, parse_json

_LONGEST = 80  # characters of one value shown
_TEMPLATES = 4  # templates named at most


def describe(record_text: str, fallback: str = "unknown", index: int | None = None) -> str:
    """'builtin, template 'interior_room', seed 7' or 'transformers, Qwen/…, seed 3'.

    ``fallback`` names the engine when the record does not; ``index`` picks the template of one
    result of many (built-in scene ideas record one template per idea)."""
    try:
        record = parse_json(record_text or "{}")
    except DocumentError:  # malformed, oversize or nested too deeply: tell what is known
        record = {}
    record = record if isinstance(record, dict) else {}
    engine = _plain(record.get("engine")) or fallback
    parts = [engine]
    model = _plain(record.get("model"))
    if model and model not in (engine, "builtin"):
        parts.append(model)
    templates = record.get("template")
    if isinstance(templates, list):
        # One per result (scene ideas) or the several one result drew on (a palette's families).
        if index is None:
            templates = templates[:_TEMPLATES]
        else:
            templates = templates[index:index + 1]
    names = [f"'{_plain(name)}'" for name in (templates if isinstance(templates, list) else [templates])
             if _plain(name)]
    if names:
        parts.append(("templates " if len(names) > 1 else "template ") + ", ".join(names))
    parameters = record.get("parameters")
    seed = parameters.get("seed") if isinstance(parameters, dict) else None
    if isinstance(seed, int) and not isinstance(seed, bool):
        parts.append(f"seed {seed}")
    return ", ".join(parts)


def _plain(value) -> str:
    return value[:_LONGEST] if isinstance(value, str) else ""
