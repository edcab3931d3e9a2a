"""An operator's ``style`` resolved: expanded prompts and the settings the style supplies.

Every image-generating operator calls ``styled_args(self)`` in ``make_request`` (and on its
built-in path) and sends ``.prompt``, ``.negative_prompt`` and ``.value(name)`` for each
setting a style may supply. What the caller passed wins over the style's default
(``is_property_set``), so ``steps=4`` in a script beats a style's ``steps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import bpy

from ..client.session import JobRefused
from ..core import styles
from ..properties.style import style_library


@dataclass(frozen=True)
class StyledArgs:
    """What an operator sends once its style is applied. ``style`` is the library name
    ('' = none); ``prompt`` and ``negative_prompt`` are expanded."""

    style: str
    prompt: str
    negative_prompt: str
    defaults: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    operator: Any = field(default=None, repr=False, compare=False)

    def value(self, name: str) -> Any:
        """The operator's ``name`` when the caller passed it or the style has no default for it;
        else the style's default (an enum's in the operator's spelling, e.g. 'XY')."""
        props = self.operator.properties
        if props.is_property_set(name) or name not in self.defaults:
            return getattr(self.operator, name)
        default = self.defaults[name]
        rna = props.bl_rna.properties[name]
        if rna.type == "ENUM":  # the library writes protocol modes ('xy'); the field may say 'XY'
            return next((item.identifier for item in rna.enum_items if item.identifier.lower() == default),
                        getattr(self.operator, name))  # a mode this operator does not offer: its own
        return default


def styled_args(operator: bpy.types.Operator) -> StyledArgs:
    """``operator``'s style applied to its ``prompt`` and ``negative_prompt`` (either may be
    missing: '' is used). Raises ``JobRefused`` for an unknown style, a broken ``styles.json``
    or an expanded prompt over the length limit; every message names the fix."""
    prompt = getattr(operator, "prompt", "").strip()
    negative = getattr(operator, "negative_prompt", "").strip()
    name = getattr(operator, "style", "")
    if not name.strip():
        return StyledArgs("", prompt, negative, operator=operator)
    try:
        style = styles.find(style_library(), name)
        expanded, expanded_negative = styles.expand(style, prompt, negative)
    except styles.StyleError as exc:
        raise JobRefused(str(exc)) from None
    return StyledArgs(style.name, expanded, expanded_negative, style.defaults, operator)
