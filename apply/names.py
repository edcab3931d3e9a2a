"""Datablock names that survive every supported Blender version."""

# Blender 4.2 cuts ID names at 63 bytes (5.0 allows more); cutting ourselves keeps names the
# same on every version and never splits a UTF-8 character.
MAX_NAME_BYTES = 63


def datablock_name(text: str, fallback: str = "Atelier") -> str:
    """``text`` with whitespace collapsed, cut (at a word end when possible) to a name every
    Blender version keeps whole."""
    name = " ".join(text.split()) or fallback
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    encoded = name.encode("utf-8")
    # One byte more than fits: if it is a space, the cut falls exactly at a word end.
    head = encoded[:MAX_NAME_BYTES + 1].decode("utf-8", errors="ignore")
    if " " in head:
        return head.rsplit(" ", 1)[0].rstrip()
    return encoded[:MAX_NAME_BYTES].decode("utf-8", errors="ignore")
