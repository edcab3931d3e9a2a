"""``python -m backend ray-serve`` refuses to start without a usable token, with bounds that
contradict each other or a port it cannot open, before it starts Ray; how it reads tokens."""

import os
import socket

import pytest
from backend_process import run_backend

from backend.ray_serve.auth import TOKEN_ENV, TokenError, load_tokens

GOOD = "a-token-of-20-chars-"


def test_no_token_no_server():
    result = run_backend("ray-serve", timeout=60)
    assert result.returncode == 1
    assert "no token: set ATELIER_BACKEND_TOKEN or pass --token-file" in result.stderr


@pytest.mark.parametrize("content", ["", "\n", "  \nsecond-line-token\n", "# only a comment\n"])
def test_a_token_file_without_a_first_token_is_refused(tmp_path, content):
    token_file = tmp_path / "tokens"
    token_file.write_text(content)
    result = run_backend("ray-serve", "--token-file", str(token_file), timeout=60)
    assert result.returncode == 1
    assert f"the token file {token_file} has no token on its first line" in result.stderr


def test_a_missing_token_file_is_named(tmp_path):
    result = run_backend("ray-serve", "--token-file", str(tmp_path / "absent"), timeout=60)
    assert result.returncode == 1 and "cannot read the token file" in result.stderr


def test_max_replicas_below_replicas_is_refused():
    result = run_backend("ray-serve", "--replicas", "3", "--max-replicas", "2",
                         env={"ATELIER_BACKEND_TOKEN": GOOD}, timeout=60)
    assert result.returncode == 1 and "--max-replicas 2 is below --replicas 3" in result.stderr


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--port", "0", "from 1 to 65535"), ("--port", "70000", "from 1 to 65535"),
    ("--gpus-per-replica", "0", "more than 0"), ("--gpus-per-replica", "nan", "more than 0"),
    ("--gpus-per-replica", "-1", "more than 0")])
def test_out_of_range_numbers_are_refused(flag, value, expected):
    result = run_backend("ray-serve", flag, value, env={"ATELIER_BACKEND_TOKEN": GOOD}, timeout=60)
    assert result.returncode == 2 and expected in result.stderr, result.stderr


def test_a_port_in_use_is_one_line_before_ray_starts():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_backend("ray-serve", "--port", str(port), env={"ATELIER_BACKEND_TOKEN": GOOD},
                             timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert "pick another --port" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr  # nothing of Ray: it never started


def test_token_file_rules(tmp_path):
    """A byte-order mark and ``#`` comment lines are not tokens; every user has one per line."""
    token_file = tmp_path / "tokens"
    token_file.write_bytes(f"\ufeff# studio tokens\n{GOOD}\n\n# bob\n{GOOD}bob\n".encode())
    assert load_tokens(str(token_file)) == [GOOD, GOOD + "bob"]


@pytest.mark.parametrize(("token", "problem"), [
    ("short-token", "is shorter than 16 characters"), ("a-token-with space-in", "contains whitespace"),
    ("a-token-of-twenty-chärs", "has characters outside ASCII")])
def test_unfit_tokens_are_refused(tmp_path, monkeypatch, token, problem):
    token_file = tmp_path / "tokens"
    token_file.write_text(f"{GOOD}\n{token}\n", encoding="utf-8")
    with pytest.raises(TokenError, match=f"token 2 of the token file {token_file} {problem}"):
        load_tokens(str(token_file))
    monkeypatch.setenv(TOKEN_ENV, token)
    with pytest.raises(TokenError, match=f"token 1 of {TOKEN_ENV} {problem}"):
        load_tokens(None)


def test_a_huge_token_file_is_refused_without_reading_it_all(tmp_path):
    token_file = tmp_path / "tokens"
    token_file.write_text((GOOD + "\n") * 100_000)
    with pytest.raises(TokenError, match="is over 64 KiB"):
        load_tokens(str(token_file))


def test_the_token_leaves_the_environment_once_read(monkeypatch, tmp_path):
    """Ray's processes inherit the server's environment: the token must not be in it."""
    monkeypatch.setenv(TOKEN_ENV, GOOD)
    assert load_tokens(None) == [GOOD] and TOKEN_ENV not in os.environ
    monkeypatch.setenv(TOKEN_ENV, GOOD)
    (tmp_path / "tokens").write_text(GOOD + "x\n")
    assert load_tokens(str(tmp_path / "tokens")) == [GOOD + "x"] and TOKEN_ENV not in os.environ
