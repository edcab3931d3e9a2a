"""The client tests' stand-in backend: ``backend/__main__.py`` in a temporary folder, run as
``python -m backend serve`` like the real one, that answers texture requests as ``standin.json``
beside it says (``plan(**how)``):

- ``files``, ``write_inside``, ``link_out``: the result's files (listed, a real image inside the
  job folder, a link in it pointing elsewhere);
- ``parameters``: values that replace the settings in the result's data and its provenance;
- ``override``: fields that replace the result's own (``data``, ``metadata``, ``files``);
- ``raw_result``: a line written instead of the result (``{id}`` becomes the request's id);
- ``silent``: the job is accepted and never answered.

Every request's type is appended to ``requests.txt``, so a test sees what was sent.
"""

import json
import sys
import textwrap

import pytest

STANDIN = textwrap.dedent('''
    import json, os, sys
    from pathlib import Path

    HERE = Path(__file__).resolve().parent.parent

    def send(message):
        sys.stdout.write(json.dumps(message) + "\\n")
        sys.stdout.flush()

    def provenance(parameters):
        return {"schema": "atelier.provenance/1", "task": "texture", "engine": "standin",
                "model": "standin", "parameters": parameters, "versions": {}}

    send({"type": "hello", "protocol": 1, "backend_version": "standin", "capabilities": ["texture"],
          "pid": os.getpid(), "limits": {}})
    for line in sys.stdin:
        request = json.loads(line)
        with open(HERE / "requests.txt", "a") as seen:
            seen.write(request.get("type", "?") + "\\n")
        if request.get("type") != "texture":
            continue
        plan = json.loads((HERE / "standin.json").read_text())
        parameters = {"prompt": request["prompt"], "negative_prompt": "", "width": 8, "height": 8,
                      "steps": 1, "guidance": 0.0, "seed": request.get("seed") or 0, "seamless": "off"}
        parameters.update(plan.get("parameters", {}))
        (HERE / "seen_output_dir.txt").write_text(request["output_dir"])
        files = list(plan.get("files", []))
        if plan.get("write_inside"):
            folder = Path(request["output_dir"]) / request["id"]
            folder.mkdir()
            from PIL import Image
            Image.new("RGB", (8, 8), (200, 40, 40)).save(folder / "base_color.png")
            files.append({"role": "base_color", "path": str(folder / "base_color.png"), "format": "png"})
        if plan.get("link_out"):
            link = Path(request["output_dir"]) / "base_color.png"
            link.symlink_to(plan["link_out"])
            files.append({"role": "base_color", "path": str(link), "format": "png"})
        send({"type": "accepted", "id": request["id"], "position": 0})
        if plan.get("silent"):
            continue
        if "raw_result" in plan:
            sys.stdout.write(plan["raw_result"].replace("{id}", request["id"]) + "\\n")
            sys.stdout.flush()
            continue
        result = {"type": "result", "id": request["id"], "files": files,
                  "metadata": provenance(parameters), "data": parameters}
        result.update(plan.get("override", {}))
        send(result)
''')


@pytest.fixture
def standin(addon, bpy_module, clean_scene, tmp_path, monkeypatch):
    """Run the stand-in as Atelier's backend; ``plan(**how)`` says how it answers."""
    folder = tmp_path / "standin"
    (folder / "backend").mkdir(parents=True)
    (folder / "backend" / "__init__.py").write_text("")
    (folder / "backend" / "__main__.py").write_text(STANDIN)
    monkeypatch.setenv("ATELIER_PYTHON", sys.executable)
    monkeypatch.setattr(addon.client.session, "EXTENSION_DIR", str(folder))

    def plan(**how):
        (folder / "standin.json").write_text(json.dumps(how))
        return folder

    yield plan
    addon.client.session.shutdown()
