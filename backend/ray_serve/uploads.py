"""A job's upload: the multipart/form-data body of ``POST /v1/jobs``, read within its limits.

Standard library only (``email`` parses the form), so the server needs nothing beyond Ray Serve.
The whole body is bounded before it is parsed, then each part on its own.
"""

from __future__ import annotations

import email.policy
from email.parser import BytesParser

from core import limits

MAX_REQUEST_PART_BYTES = limits.HTTP_MAX_REQUEST_PART_BYTES  # the request JSON: one protocol line
MAX_FILE_PART_BYTES = limits.HTTP_MAX_FILE_BYTES  # one input image
MAX_BODY_BYTES = limits.HTTP_MAX_UPLOAD_BYTES  # the whole upload


class TooLarge(ValueError):
    """The upload is over a limit: answered with 413."""


class BadUpload(ValueError):
    """The body is not the form ``POST /v1/jobs`` takes: answered with 400."""


async def read_body(receive_chunks, declared_length: str | None) -> bytes:
    """The body, refused as soon as it passes ``MAX_BODY_BYTES`` (declared or counted)."""
    if declared_length and declared_length.isdigit() and int(declared_length) > MAX_BODY_BYTES:
        raise TooLarge(f"the upload is {int(declared_length)} bytes; the limit is {MAX_BODY_BYTES}")
    chunks, size = [], 0
    async for chunk in receive_chunks:
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLarge(f"the upload is over the limit of {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def check_form_type(content_type: str) -> None:
    """Refuse a body that is not multipart/form-data before any of it is read."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise BadUpload(f"the body is {content_type[:100] or 'untyped'}, not multipart/form-data")


def form_parts(body: bytes, content_type: str) -> dict[str, bytes]:
    """{part name: bytes} of a multipart/form-data body; each part within its limit. CPU-bound for
    a large body: the server runs it off its event loop."""
    check_form_type(content_type)
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BadUpload("the multipart body has no parts (is the boundary right?)")
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise BadUpload("a part has no name; name each part (request, image, mask, control_image)")
        if name in parts:
            raise BadUpload(f"the part {name!r} appears twice")
        data = part.get_payload(decode=True) or b""
        limit = MAX_REQUEST_PART_BYTES if name == "request" else MAX_FILE_PART_BYTES
        if len(data) > limit:
            raise TooLarge(f"the part {name!r} is {len(data)} bytes; the limit is {limit}")
        parts[name] = data
    return parts
