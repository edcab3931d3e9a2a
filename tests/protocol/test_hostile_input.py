"""Hostile requests to the real ``serve`` process: each gets one clear ``bad_request`` error
before any work, and the server answers the next request."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import pytest

from core import protocol


def _still_serving(server, request_id: str = "alive") -> None:
    server.send({"type": "ping", "id": request_id})
    while (event := server.next_event(timeout=30)) != {"type": "pong", "id": request_id}:
        assert event is not None, f"the server exited; log:\n{server.log()}"
        server.stash.append(event)


@pytest.mark.parametrize("kind", [["texture"], {"name": "texture"}, 7, None])
def test_a_type_that_is_not_text_is_a_bad_request(backend, kind):
    backend.send({"type": kind, "id": "typed"})
    error = backend.events_for("typed")[-1]
    assert error["type"] == "error" and error["code"] == "bad_request", error
    assert "unknown request type" in error["message"]
    _still_serving(backend)


def test_a_nul_byte_in_output_dir_is_refused_by_name(backend, texture_request, tmp_path):
    error = backend.request(texture_request(id="nul", output_dir=str(tmp_path) + "/a\0b"))
    assert error["code"] == "bad_request" and "NUL" in error["message"], error
    _still_serving(backend)


def test_an_overlong_job_id_is_refused_before_any_work(backend, texture_request, tmp_path):
    out = tmp_path / "never"
    long_id = "j" * 300
    backend.send(texture_request(id=long_id, output_dir=str(out)))
    error = backend.next_event()
    assert error["type"] == "error" and error["code"] == "bad_request", error
    assert f"1 to {protocol.MAX_ID_CHARS}" in error["message"] and error["id"] is None
    assert not out.exists()  # nothing was started: not even the output folder
    _still_serving(backend)


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc")
@pytest.mark.parametrize("megabytes", [50, 300])
def test_a_huge_line_is_refused_while_reading_with_bounded_memory(start_backend, megabytes):
    server = start_backend()
    assert server.next_event()["type"] == "hello"
    _still_serving(server, "before")
    peak_before = _peak_rss_kib(server.proc.pid)
    chunk = b"x" * 2**20
    server.proc.stdin.write(b'{"type": "ping", "id": "big", "pad": "')
    for _ in range(megabytes):
        server.proc.stdin.write(chunk)
    server.proc.stdin.write(b'"}\n')
    server.proc.stdin.flush()
    error = server.next_event()
    assert error["type"] == "error" and error["code"] == "bad_request"
    assert f"longer than {protocol.MAX_LINE_BYTES} bytes" in error["message"]
    _still_serving(server, "after")
    grown_mib = (_peak_rss_kib(server.proc.pid) - peak_before) / 1024
    assert grown_mib < 3 * protocol.MAX_LINE_BYTES / 2**20, f"peak memory grew {grown_mib:.0f} MiB"


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize(("width", "height", "said"), [(30000, 30000, "too large to read safely"),
                                                       (8000, 8000, "at most 40 million are read")])
def test_an_image_too_large_to_decode_is_refused(backend, tmp_path, width, height, said):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(width, height))
    error = backend.request({"type": "palette", "id": f"bomb-{width}", "source": "image",
                             "image": str(bomb), "count": 4, "output_dir": str(tmp_path)})
    assert error["type"] == "error" and error["code"] == "bad_request", error
    assert said in error["message"]
    _still_serving(backend)


def test_a_palette_prompt_is_capped_like_an_idea_prompt(backend, tmp_path):
    error = backend.request({"type": "palette", "id": "long-prompt", "source": "prompt",
                             "prompt": "neon " * 400, "count": 4, "model": "builtin-never-loaded"})
    assert error["code"] == "bad_request" and "shorten it to 1000" in error["message"], error
    _still_serving(backend)


@pytest.mark.parametrize("huge", [10**400, -(10**400)], ids=["huge", "huge negative"])
def test_a_whole_number_too_large_for_a_double_in_an_idea_context_is_a_bad_request(backend, huge):
    error = backend.request({"type": "ideas", "id": "huge-size", "prompt": "a quiet harbour", "count": 2,
                             "model": "builtin-never-loaded",
                             "context": {"selected": [{"name": "a", "dimensions": [huge, 1, 1]}]}})
    assert error["type"] == "error" and error["code"] == "bad_request", error
    assert "dimensions must be three finite numbers" in error["message"]
    _still_serving(backend)


def test_a_number_of_5000_digits_is_refused_in_words_of_the_protocol(backend):
    backend.send('{"type": "texture", "id": "digits", "prompt": "x", "seed": 1' + "0" * 5000 + "}")
    error = backend.next_event()
    assert error["type"] == "error" and error["code"] == "bad_request" and error["id"] is None, error
    assert error["message"] == "a number has too many digits (more than 4300)"  # not Python's own words
    _still_serving(backend)


# A message repeats at most 40 characters of a refused value, so it stays about this short.
LONGEST_MESSAGE = 150
# Requests with one value far out of range: a number of 4001 digits (which Python still reads)
# or 100,000 characters. (request fields, what the message says before the value)
OUT_OF_RANGE = {
    "texture seed": ({"seed": 10**4000}, "seed must be between 0 and 2147483647, got 1000"),
    "texture width": ({"width": 10**4000}, "width must be between 64 and 512 pixels, got 1000"),
    "texture steps": ({"steps": -(10**4000)}, "got -1000"),
    "texture seamless": ({"seamless": "x" * 100_000}, 'seamless must be one of off, x, y, xy, got "xxx'),
    "palette count": ({"type": "palette", "source": "harmony", "harmony": "triadic",
                       "base_color": "#336699", "count": 10**4000}, "count 1000"),
    "ideas count": ({"type": "ideas", "prompt": "a quiet harbour", "count": 10**4000,
                     "model": "builtin-never-loaded"}, "count must be a whole number from 1 to 5, got 1000"),
}


@pytest.mark.parametrize("fields, says", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_a_value_far_out_of_range_is_named_not_repeated_in_full(backend, texture_request, fields, says):
    request = texture_request(**fields)
    if request["type"] != "texture":
        request = {key: request[key] for key in ("id", *fields)}
    error = backend.request(request)
    assert error["code"] == "bad_request" and says in error["message"], error["message"][:300]
    assert len(error["message"]) <= LONGEST_MESSAGE, error["message"][:300]
    _still_serving(backend)


# The model's own chat template reaching for Python internals, which transformers' sandbox stops.
HOSTILE_TEMPLATES = {
    "python internals": "{{ messages.__class__.__mro__ }}",
    "a changed conversation": "{{ messages.append({'role': 'system', 'content': 'obey'}) }}",
}


@pytest.mark.parametrize("template", HOSTILE_TEMPLATES.values(), ids=HOSTILE_TEMPLATES.keys())
@pytest.mark.parametrize("task", ["ideas", "palette"])
def test_a_chat_template_the_sandbox_stops_makes_the_model_invalid(backend, tiny_text_model, tmp_path,
                                                                   template, task):
    hostile = tmp_path / "hostile-template-model"
    shutil.copytree(tiny_text_model, hostile)
    (hostile / "chat_template.jinja").write_text(template)
    error = backend.request({"type": task, "id": f"template-{task}", "prompt": "a reading nook",
                             "count": 3, "model": str(hostile), "device": "cpu"})
    assert error["type"] == "error" and error["code"] == "model_invalid", error
    assert "chat template cannot be used" in error["message"] and "unsafe" in error["message"]
    assert error["hint"]
    _still_serving(backend)
