"""The text server the text-server tests run against really is one: llama-cpp-python's server
answers chat completions with the tiny model, and it enforces a JSON schema given as
``response_format`` (the tiny model's answers are noise, so only the server's constrained
decoding can make them valid documents)."""

from __future__ import annotations

import json
import urllib.request

from core import schema

# A small schema with the keywords Atelier's schemas rely on: an enum and a string bounded by a
# pattern of printable characters. The pattern matters: llama-cpp-python's grammar for a plain
# string admits raw control characters, which JSON forbids; Atelier's schemas bound every string
# by such a pattern.
MOOD_SCHEMA = {
    "type": "object",
    "properties": {
        "mood": {"enum": ["calm", "stormy", "festive"]},
        "title": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9 '-]{0,11}$"},
    },
    "required": ["mood", "title"],
    "additionalProperties": False,
}
MESSAGES = [
    {"role": "system", "content": "Answer with one JSON document and nothing else."},
    {"role": "user", "content": "The mood and a short title for a rainy neon alley."},
]


def _chat(server, **fields) -> dict:
    body = {"model": server.model, "messages": MESSAGES, "seed": 7, "temperature": 1.0, **fields}
    request = urllib.request.Request(f"{server.url}/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _schema_problems(text: str) -> list[str]:
    try:
        return schema.problems(schema.parse_json(text), MOOD_SCHEMA)
    except schema.DocumentError as error:
        return error.problems


def test_the_server_lists_the_tiny_model(text_server):
    with urllib.request.urlopen(f"{text_server.url}/models", timeout=10) as response:
        listed = json.load(response)
    assert [model["id"] for model in listed["data"]] == [text_server.model]


def test_the_server_answers_a_chat_completion(text_server):
    answer = _chat(text_server, max_tokens=8)
    [choice] = answer["choices"]
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("stop", "length")
    assert 0 < answer["usage"]["completion_tokens"] <= 8


def test_the_server_enforces_a_json_schema(text_server):
    free = _chat(text_server, max_tokens=60)["choices"][0]["message"]["content"]
    assert _schema_problems(free), f"the random model alone wrote a valid document: {free!r}"

    # llama-cpp-python's form of response_format: the schema beside type "json_object".
    constrained = _chat(text_server, max_tokens=200,
                        response_format={"type": "json_object", "schema": MOOD_SCHEMA})
    [choice] = constrained["choices"]
    assert choice["finish_reason"] == "stop"
    assert _schema_problems(choice["message"]["content"]) == []
