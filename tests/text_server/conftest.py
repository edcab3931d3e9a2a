"""A real OpenAI-compatible text server for the tests: llama-cpp-python's server on loopback,
serving the tiny random text model converted to GGUF.

tools/test.sh installs llama-cpp-python (built once, then from its cached wheel). Elsewhere the
tests that need the server are skipped, unless ATELIER_REQUIRE_ALL_BLENDERS is set (tools/test.sh
sets it): there every test must run, so a missing server fails.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gguf_writer import write_gguf

# The name the server answers to (``/v1/models`` lists it); requests may name it as "model".
MODEL_NAME = "atelier-tiny-qwen2"
# The tiny model's own limit (max_position_embeddings): an idea written by random weights fills
# every text field to its bound and needs more than 2048 tokens.
CONTEXT_TOKENS = 8192
START_TIMEOUT = 60  # seconds; loading the 140 kB model takes about one
INSTALL_HINT = (
    "llama-cpp-python is not installed: run tools/test.sh (it builds the wheel once and caches it "
    "in .cache/wheels) or `pip install -r tools/requirements-text-server.txt`"
)


@dataclass(frozen=True)
class TextServer:
    """A running text server: ``url`` is the API base (``http://127.0.0.1:PORT/v1``)."""

    url: str
    model: str
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_env() -> dict[str, str]:
    """This process's environment without the variables the server would read as its settings
    (pydantic-settings takes PORT, HOST, API_KEY, MODEL, ... from the environment, and the
    server lets HOST and PORT win over its command line)."""
    from llama_cpp.server.settings import Settings

    settings = {name.upper() for name in Settings.model_fields}
    return {name: value for name, value in os.environ.items() if name.upper() not in settings}


def _log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _wait_until_answering(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the text server exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    pytest.fail(f"the text server did not answer {url}/models within {START_TIMEOUT} s:\n{_log_tail(log)}")


@pytest.fixture(scope="session")
def text_server(request, tmp_path_factory) -> Iterator[TextServer]:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with the tiny text model."""
    if importlib.util.find_spec("llama_cpp") is None:
        if os.environ.get("ATELIER_REQUIRE_ALL_BLENDERS"):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    # Asked for only now, so a skip does not wait for the model to be built.
    tiny_text_model = request.getfixturevalue("tiny_text_model")
    folder = tmp_path_factory.mktemp("text-server")
    model = write_gguf(tiny_text_model, folder / "tiny-qwen2.gguf")
    log = folder / "server.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_NAME,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(CONTEXT_TOKENS),
    ]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=_server_env())
    try:
        _wait_until_answering(process, url, log)
        yield TextServer(url=url, model=MODEL_NAME, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
