"""The ``style`` field every image-generating operator and panel shares (``core.styles``)."""

import bpy

from ..core import styles


def style_library() -> dict[str, styles.Style]:
    """The built-in styles and the artist's ``styles.json``; ``styles.StyleError`` when that file
    is broken."""
    from .. import preferences  # preferences imports properties: a module-level import would circle

    return styles.load_styles(preferences.styles_file())


def style_names(self, context: bpy.types.Context, edit_text: str):
    """The library's styles (built-in and the artist's ``styles.json``) for the field's search
    list, each with its label and description; the typed text narrows them down."""
    try:
        library = style_library()
    except styles.StyleError:
        # The list cannot say what is wrong; running the operator reports the file's problems.
        library = styles.BUILTIN_STYLES
    typed = styles.style_key(edit_text)
    for name, style in sorted(library.items()):
        if typed in name or edit_text.strip().lower() in style.label.lower():
            yield name, f"{style.label}: {style.description}" if style.description else style.label


def style_field():
    """A style's name from the style library ('' = none)."""
    return bpy.props.StringProperty(
        name="Style", description="Prompt style from Atelier's style library (empty = none): adds "
                                  "its words to the prompts and its default settings",
        search=style_names)
