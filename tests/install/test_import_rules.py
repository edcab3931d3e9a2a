"""The layout's import rules, read from every shipped module's source with ``ast``.

Imports inside function bodies count (a lazy import still runs in that process), and there is no
per-file allow-list: a rule either holds for a folder or the folder is wrong.

- The Blender side (``operators``, ``panels``, ``apply``, ``builtin``, ``properties``, ``client``
  and the root modules) never imports ``backend``: Blender never loads the model process's code.
- ``backend`` never imports Blender-side modules.
- ``core`` imports neither, and nothing outside the standard library, numpy and coloraide.
- torch, diffusers, transformers, accelerate, torchao, xgrammar and huggingface_hub are imported only
  under ``backend``; bpy and its companions never there or in ``core``.
- No import circle among Atelier's own modules.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_SHIPPED = ("tests", "bench", "tools", "out", "build", "wheels")
BLENDER_SIDE = ("operators", "panels", "apply", "builtin", "properties", "client")
MODEL_LIBRARIES = ("torch", "diffusers", "transformers", "accelerate", "torchao", "xgrammar",
                   "huggingface_hub")
BLENDER_LIBRARIES = ("bpy", "bpy_extras", "mathutils", "bmesh", "addon_utils", "gpu", "blf")
CORE_LIBRARIES = ("numpy", "coloraide")


def _sources(root: Path = ROOT) -> list[Path]:
    return sorted(
        path for path in root.rglob("*.py")
        if not any(part.startswith(".") or part in NOT_SHIPPED or part == "__pycache__"
                   for part in path.relative_to(root).parts)
    )


def _module_name(path: Path, root: Path = ROOT) -> str:
    """``operators.texture``; a package is named by its folder; the extension package is ''."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str, root: Path = ROOT) -> bool:
    base = root.joinpath(*dotted.split(".")) if dotted else root
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, dotted name) of everything ``path`` imports: Atelier's own modules by their name
    inside the extension folder, anything else by its own name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = list(path.relative_to(root).parent.parts)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            kept = package[:len(package) - node.level + 1] if node.level else []
            base = ".".join([*kept, *(node.module.split(".") if node.module else [])])
            # "from x import y" imports module x.y when there is one, else takes y from x.
            for alias in node.names:
                candidate = f"{base}.{alias.name}" if base else alias.name
                found.append((node.lineno, candidate if _is_module(candidate, root) else base))
    return found


def _layer(dotted: str, root: Path = ROOT) -> str:
    """'core', 'backend', 'blender' (the extension's Blender side) or 'external'."""
    top = dotted.split(".")[0]
    if top in ("core", "backend"):
        return top
    if dotted == "" or top in BLENDER_SIDE or (root / f"{top}.py").is_file():
        return "blender"
    return "external"


def _problems(root: Path = ROOT) -> list[str]:
    problems = []
    for path in _sources(root):
        where = path.relative_to(root).as_posix()
        layer = _layer(_module_name(path, root), root)
        for line, target in _imports(path, root):
            top = target.split(".")[0]
            kind = _layer(target, root)
            said = f"{where}:{line} imports {target or 'the extension package'}"
            if layer == "blender" and kind == "backend":
                problems.append(f"{said}: the Blender side never imports the model process")
            if layer == "backend" and kind == "blender":
                problems.append(f"{said}: the backend never imports Blender-side code")
            if layer == "core" and kind in ("backend", "blender"):
                problems.append(f"{said}: core imports neither side")
            if (layer == "core" and kind == "external" and top not in CORE_LIBRARIES
                    and top not in sys.stdlib_module_names):
                problems.append(f"{said}: core uses only the standard library, numpy and coloraide")
            if layer != "backend" and top in MODEL_LIBRARIES:
                problems.append(f"{said}: model libraries are imported only under backend/")
            if layer in ("backend", "core") and top in BLENDER_LIBRARIES:
                problems.append(f"{said}: only the Blender side imports Blender's modules")
    return problems


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _sources():
        name = _module_name(path)
        graph[name] = {target for _, target in _imports(path)
                       if _layer(target) != "external" and _is_module(target) and target != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_scan_sees_every_layer():
    names = {_module_name(path) for path in _sources()}
    assert {"core.protocol", "backend.server", "operators.texture", "client.session", "preferences",
            "backend.tasks.texture"} <= names
    assert not any(name.startswith(("tests", "bench", "tools")) for name in names)


def test_every_import_keeps_to_its_layer():
    problems = _problems()
    assert not problems, "\n".join(problems)


def test_no_import_circle():
    circles = _circles(_graph())
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(group) for group in circles)


@pytest.mark.parametrize(("folder", "source", "expected"), [
    ("operators", "from ..backend import protocol\n",
     "operators/probe.py:1 imports backend: the Blender side never imports the model process"),
    ("operators", "def later():\n    import torch\n",
     "operators/probe.py:2 imports torch: model libraries are imported only under backend/"),
    ("backend", "from operators import texture\n",
     "backend/probe.py:1 imports operators: the backend never imports Blender-side code"),
    ("core", "import PIL\n",
     "core/probe.py:1 imports PIL: core uses only the standard library, numpy and coloraide"),
    ("backend", "import bpy\n",
     "backend/probe.py:1 imports bpy: only the Blender side imports Blender's modules"),
    ("operators", "from ..core import protocol\n", None),
])
def test_a_breaking_import_is_named_with_its_file(tmp_path, folder, source, expected):
    """The rules fire on a module written for the test, naming file, line and import, and stay
    quiet on a good one."""
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "probe.py").write_text(source, encoding="utf-8")
    assert _problems(tmp_path) == ([expected] if expected else [])


def test_a_circle_is_found():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
