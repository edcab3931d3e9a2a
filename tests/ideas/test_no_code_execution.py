"""Model output is data: no ``exec``/``eval`` anywhere in the project, and no repository code
from a model is ever run (``trust_remote_code``)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", ".git", "wheels", "__pycache__", "node_modules"}


def _project_sources():
    for path in sorted(ROOT.rglob("*.py")):
        parts = set(path.relative_to(ROOT).parts)
        if not parts & SKIP and not any(part.startswith(".venv") for part in parts):
            yield path


def _builtin_name(func) -> str:
    """``exec`` for ``exec(...)`` and ``builtins.exec(...)``; '' for methods like torch's ``m.eval()``."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in (
            "builtins", "__builtins__"):
        return func.attr
    return ""


def test_the_scan_sees_the_whole_project():
    names = {path.relative_to(ROOT).as_posix() for path in _project_sources()}
    assert {"core/ideas.py", "apply/scene_idea.py", "operators/ideas.py", "__init__.py"} <= names


def test_no_source_file_calls_exec_or_eval_or_trusts_remote_code():
    found = []
    for path in _project_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            if _builtin_name(node.func) in ("exec", "eval"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {_builtin_name(node.func)}")
            for keyword in node.keywords:
                if (keyword.arg == "trust_remote_code" and not
                        (isinstance(keyword.value, ast.Constant) and keyword.value.value is False)):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} passes trust_remote_code")
    assert found == []


def test_the_check_finds_what_it_looks_for():
    calls = [node.func for node in ast.walk(ast.parse("exec(x); builtins.eval(y); model.eval()"))
             if isinstance(node, ast.Call)]
    assert [_builtin_name(func) for func in calls] == ["exec", "eval", ""]
