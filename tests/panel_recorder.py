"""Drawing panels without a window: a stand-in for ``UILayout`` that records every call and
checks that each property and operator property a panel names really exists."""

import types


class RecordingLayout:
    """Stands in for ``UILayout``: records ``(method, args, kwargs)`` for every call."""

    def __init__(self, bpy, calls):
        object.__setattr__(self, "_bpy", bpy)
        object.__setattr__(self, "calls", calls)

    def __setattr__(self, name, value):
        """Layout settings (``row.enabled = False``) are recorded as ``(name, (value,), {})``."""
        self.calls.append((name, (value,), {}))

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if name in ("row", "column", "box", "split"):
                return RecordingLayout(self._bpy, self.calls)
            if name == "prop":
                assert args[1] in args[0].bl_rna.properties, f"no property {args[1]!r}"
            if name == "template_list":
                assert args[3] in args[2].bl_rna.properties and args[5] in args[4].bl_rna.properties
            if name == "operator":
                stand_in = OperatorStandIn(self._bpy, args[0])
                self.calls.append(("operator properties", (args[0],), stand_in.values))
                return stand_in
            return None
        return record


class OperatorStandIn:
    """What ``layout.operator`` returns: only the operator's own properties can be set."""

    def __init__(self, bpy, idname):
        module, name = idname.split(".")
        rna = getattr(getattr(bpy.ops, module), name).get_rna_type()  # raises when unregistered
        object.__setattr__(self, "_names", set(rna.properties.keys()))
        object.__setattr__(self, "values", {})

    def __setattr__(self, name, value):
        assert name in self._names, f"operator has no property {name!r}"
        self.values[name] = value


def draw(bpy, panel_class) -> list:
    """The calls ``panel_class.draw`` makes in the current context."""
    calls = []
    panel_class.draw(types.SimpleNamespace(layout=RecordingLayout(bpy, calls)), bpy.context)
    return calls


def labels(calls) -> list[str]:
    """Every label's text, in drawing order."""
    return [kwargs.get("text", args[0] if args else "") for name, args, kwargs in calls if name == "label"]


def operator_settings(calls, idname: str) -> list[dict]:
    """The properties set on each button of operator ``idname``, in drawing order."""
    return [values for name, args, values in calls if name == "operator properties" and args[0] == idname]
