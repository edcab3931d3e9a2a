"""The bearer token: where the server reads it, and the constant-time check of a request's."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

TOKEN_ENV = "ATELIER_BACKEND_TOKEN"


class TokenError(ValueError):
    """No usable token: the server refuses to start."""


MIN_TOKEN_CHARS = 16
MAX_TOKEN_FILE_BYTES = 64 * 1024  # a few hundred tokens; more is not a token file


def load_tokens(token_file: str | None) -> list[str]:
    """The tokens the server accepts: every non-empty line of ``--token-file`` that is not a ``#``
    comment (one per user, so users cannot see each other's jobs; the first such line must hold
    one), else ``ATELIER_BACKEND_TOKEN``. That variable is removed from this process's environment
    either way, so Ray's processes do not inherit it."""
    env_token = os.environ.pop(TOKEN_ENV, "").strip()
    if token_file:
        try:
            with open(Path(token_file).expanduser(), "rb") as source:
                raw = source.read(MAX_TOKEN_FILE_BYTES + 1)
            text = raw.decode("utf-8-sig")  # a byte-order mark from a Windows editor is no token
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenError(f"cannot read the token file {token_file}: {exc}") from None
        if len(raw) > MAX_TOKEN_FILE_BYTES:
            raise TokenError(f"the token file {token_file} is over {MAX_TOKEN_FILE_BYTES // 1024} KiB; "
                             "it should hold one token per line")
        lines = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
        if not lines or not lines[0]:
            raise TokenError(f"the token file {token_file} has no token on its first line")
        tokens = [line for line in lines if line]
        where = f"the token file {token_file}"
    else:
        token = env_token
        if not token:
            raise TokenError(f"no token: set {TOKEN_ENV} or pass --token-file PATH ({_MAKE_ONE})")
        tokens, where = [token], TOKEN_ENV
    for number, token in enumerate(tokens, 1):
        problem = token_problem(token)
        if problem:
            raise TokenError(f"token {number} of {where} {problem} ({_MAKE_ONE})")
    return tokens


_MAKE_ONE = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def token_problem(token: str) -> str:
    """Why ``token`` is unfit to guard the server ("" when it is fit)."""
    if not token.isascii():
        return "has characters outside ASCII"
    if any(character.isspace() for character in token):
        return "contains whitespace"
    if len(token) < MIN_TOKEN_CHARS:
        return f"is shorter than {MIN_TOKEN_CHARS} characters"
    return ""


def token_hash(token: str) -> str:
    """What a job records of the token that created it (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def token_accepted(given: str | None, accepted: list[str]) -> bool:
    """Constant-time comparison with every accepted token, so the timing reveals none of them."""
    if given is None:
        return False
    given_bytes = given.encode("utf-8")
    matches = [hmac.compare_digest(given_bytes, token.encode("utf-8")) for token in accepted]
    return any(matches)
