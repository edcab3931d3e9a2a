"""Text servers that misbehave, and one that cannot be reached: each ends the job with an error
that says what to check, and the client survives for the next job.

A real server cannot be made to answer prose despite ``response_format``, an HTML page, a 500,
a stream that never ends, breaks off or stays silent, or refuse a form of ``response_format``; so
a small loopback ``http.server`` plays those parts here (``scripted_server.py``). The
well-behaved server is the real one (``test_text_server_real.py``).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from scripted_server import MODEL, body, endless, pings, running, silent, stream

PROMPT = "a rainy neon alley"
GOOD_PALETTE = {"title": "Neon Rain", "colors": [
    {"hex": "#101820", "name": "Night", "role": "background"},
    {"hex": "#ff2a6d", "name": "Neon Pink", "role": "primary"},
    {"hex": "#05d9e8", "name": "Cyan Sign", "role": "accent"},
    {"hex": "#d1f7ff", "name": "Mist", "role": "highlight"},
]}
BAD_PALETTE = {**GOOD_PALETTE, "colors": [{**GOOD_PALETTE["colors"][0], "hex": "#GGGGGG"},
                                          *GOOD_PALETTE["colors"][1:]]}
SECRET = "sk-atelier-test-secret-0123"


@pytest.fixture(scope="module")
def misbehaving():
    with running() as server:
        yield server


# --------------------------------------------------------------------------- helpers


def _config(addon, url: str, **fields):
    fields.setdefault("model", MODEL)
    return addon.client.text_server.TextServerConfig(url=url, **fields)


def _start(addon, config, request):
    session = addon.client.session
    client = session.client_for(config)
    return client, session.submit(client, request, label="text server test")


def _run(addon, config, request, timeout: float = 60.0):
    session = addon.client.session
    client, job = _start(addon, config, request)
    return session.wait(client, job, timeout=timeout)


def _palette(addon, count: int = 4, **fields):
    protocol = addon.core.protocol
    return protocol.PaletteRequest(id=addon.client.session.new_request_id(), source="prompt",
                                   prompt=PROMPT, count=count, seed=3, **fields)


def _error(job) -> str:
    assert job.error is not None, f"the job should have failed, got {job.result}"
    return f"{job.error.message} — {job.error.hint}"


# --------------------------------------------------------------------------- what is sent, and the retry


def test_an_unusable_answer_is_retried_once_with_its_problems_and_the_schema_is_sent(addon, misbehaving):
    misbehaving.script(stream(json.dumps(BAD_PALETTE)), stream(json.dumps(GOOD_PALETTE)))
    job = _run(addon, _config(addon, misbehaving.url), _palette(addon))
    assert job.error is None, _error(job)
    assert [color.hex for color in job.result.scheme.colors] == [c["hex"] for c in GOOD_PALETTE["colors"]]
    record = job.result.provenance
    assert (record.engine, record.model, record.model_source) == ("openai-compatible", MODEL, misbehaving.url)
    assert record.extra["attempts"] == 2 and record.parameters["seed"] == 3
    first, second = (request["body"] for request in misbehaving.requests)
    palette_prompt = addon.core.palette_prompt
    assert first["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "atelier_palette", "schema": palette_prompt.schema_for(4), "strict": True}}
    assert first["stream"] is True and first["model"] == MODEL and first["seed"] == 3
    assert first["messages"] == palette_prompt.messages(PROMPT, 4)
    retry = second["messages"][-1]["content"]
    assert second["messages"][-2] == {"role": "assistant", "content": json.dumps(BAD_PALETTE)}
    assert retry.startswith("That answer cannot be used:") and "colors[0].hex" in retry
    assert second["seed"] == 4
    # Progress followed the colours written, to the end of the second try.
    assert (job.step, job.total, job.stage) == (4, 4, "writing the palette (second try)")


def test_prose_twice_is_a_server_that_ignored_response_format(addon, misbehaving):
    misbehaving.script(stream("Sure! Here is a lovely palette: deep blue, neon pink and a touch of cyan."))
    job = _run(addon, _config(addon, misbehaving.url), _palette(addon))
    assert job.error.code == "invalid_output"
    assert "prose, not JSON, twice: it ignored response_format" in job.error.message
    assert misbehaving.url in job.error.message and "llama-server" in job.error.hint
    assert len(misbehaving.requests) == 2  # one retry, no more


def test_a_server_that_refuses_json_schema_is_asked_in_llama_cpp_pythons_form(addon, misbehaving):
    refusal = json.dumps({"detail": [{"type": "literal_error", "loc": ["body", "response_format", "type"],
                                      "msg": "Input should be 'text' or 'json_object'"}]})
    misbehaving.script(body(422, refusal), stream(json.dumps(GOOD_PALETTE)))
    config = _config(addon, misbehaving.url)
    job = _run(addon, config, _palette(addon))
    assert job.error is None, _error(job)
    forms = [request["body"]["response_format"] for request in misbehaving.requests]
    schema = addon.core.palette_prompt.schema_for(4)
    assert forms == [{"type": "json_schema", "json_schema": {"name": "atelier_palette", "schema": schema,
                                                             "strict": True}},
                     {"type": "json_object", "schema": schema}]
    # The next job asks in the form the server took, at once.
    misbehaving.script(stream(json.dumps(GOOD_PALETTE)))
    assert _run(addon, config, _palette(addon)).error is None
    assert [r["body"]["response_format"]["type"] for r in misbehaving.requests] == ["json_object"]


# --------------------------------------------------------------------------- servers that fail


@pytest.mark.parametrize(("answer", "code", "said"), [
    (body(500, '{"error": {"message": "CUDA out of memory"}}'), "invalid_output",
     "failed (HTTP 500: CUDA out of memory)"),
    (body(404, '{"error": {"message": "model \'scripted-model\' not found"}}'), "model_missing",
     "does not know the model 'scripted-model'"),
    (body(401, '{"error": "unauthorized"}'), "bad_request", "refused the request (HTTP 401: unauthorized)"),
    (body(200, "<html><body>Welcome to nginx!</body></html>", "text/html"), "invalid_output",
     "answered with text/html, not JSON"),
    (body(200, "not json at all"), "invalid_output", "the answer from the text server"),
    (endless, "invalid_output", "Atelier stopped reading"),
    (stream(json.dumps(GOOD_PALETTE)[:40], finish="length"), "invalid_output",
     "cut the answer off at its length limit after 40 characters"),
    (stream(json.dumps(GOOD_PALETTE)[:40], finish=None), "invalid_output",
     "broke the answer off after 40 characters without ending it"),
])
def test_a_failing_server_is_a_clear_error_and_the_next_job_runs(addon, misbehaving, answer, code, said):
    config = _config(addon, misbehaving.url)
    misbehaving.script(answer)
    job = _run(addon, config, _palette(addon))
    assert job.error.code == code, _error(job)
    assert said in job.error.message and misbehaving.url in job.error.message
    assert job.error.hint
    misbehaving.script(stream(json.dumps(GOOD_PALETTE)))
    assert _run(addon, config, _palette(addon)).error is None


def test_a_silent_server_is_given_up_on_after_the_read_timeout(addon, misbehaving):
    misbehaving.script(silent)
    job = _run(addon, _config(addon, misbehaving.url, read_timeout=1.0), _palette(addon))
    assert job.error.code == "invalid_output"
    assert "sent nothing for 1 s" in job.error.message


def test_a_server_that_only_pings_is_given_up_on_after_the_answer_time(addon, misbehaving):
    """Keep-alive comments reset the read timeout but bring no answer: the whole answer's bound
    still ends the job."""
    misbehaving.script(pings)
    job = _run(addon, _config(addon, misbehaving.url, answer_seconds=1.0), _palette(addon))
    assert job.error.code == "invalid_output", _error(job)
    assert "was still writing after 1 s; Atelier stopped reading" in job.error.message


def test_cancel_ends_a_job_waiting_on_the_server_at_once(addon, misbehaving):
    session = addon.client.session
    misbehaving.script(silent)
    client, job = _start(addon, _config(addon, misbehaving.url), _palette(addon))
    # The answer has begun (http.client has let go of a closing connection's socket by then).
    assert misbehaving.answering.wait(30), "the server never began to answer"
    session.cancel(client, job)
    session.wait(client, job, timeout=30)
    assert job.cancelled and job.error.message == "the job was cancelled"


def test_an_unreachable_server_fails_within_seconds_naming_the_url(addon):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    job = _run(addon, _config(addon, url), _palette(addon), timeout=20)
    assert job.error.code == "model_missing", _error(job)
    assert job.error.message == (f"cannot reach the text server at {url}: nothing listens there "
                                 "(connection refused)")
    assert "Text Server URL" in job.error.hint and "ATELIER_TEXT_SERVER_URL" in job.error.hint


def test_ideas_ask_with_the_ideas_schema_and_fail_clearly_on_prose(addon, misbehaving):
    protocol, ideas_prompt = addon.core.protocol, addon.core.ideas_prompt
    misbehaving.script(stream("I would suggest a cosy reading nook with a lamp."))
    request = protocol.IdeasRequest(id="ideas-prose", prompt="a reading nook", count=2, seed=5)
    job = _run(addon, _config(addon, misbehaving.url), request)
    assert job.error.code == "invalid_output" and "ignored response_format" in job.error.message
    first = misbehaving.requests[0]["body"]
    assert first["response_format"]["json_schema"]["schema"] == ideas_prompt.generation_schema(2)
    assert first["messages"] == ideas_prompt.messages("a reading nook", 2, "")


def test_a_number_too_large_to_hold_is_clamped_like_any_number_out_of_range(addon, misbehaving):
    """llama.cpp's grammar ignores the schema's bounds: a number like 1E999 (infinity once read)
    is brought into its field's range, and the idea stands."""
    protocol, ideas = addon.core.protocol, addon.core.ideas
    nook = json.loads((Path(__file__).parents[1] / "ideas" / "reading_nook.json").read_text())
    text = json.dumps({"ideas": [nook]}).replace('"location": [0, 0, 0]', '"location": [1E999, 0, -1E999]', 1)
    assert "1E999" in text
    misbehaving.script(stream(text))
    request = protocol.IdeasRequest(id="ideas-huge", prompt="a reading nook", count=1, seed=5)
    job = _run(addon, _config(addon, misbehaving.url), request)
    assert job.error is None, _error(job)
    [idea] = job.result.ideas
    assert ideas.schema_problems(idea) == []
    repairs = " | ".join(job.result.repairs)
    assert "2 number(s) too large to hold" in repairs, repairs
    assert "was clamped to 100" in repairs and "was clamped to -100" in repairs, repairs


# --------------------------------------------------------------------------- the key, the URL, the model


def test_the_key_is_sent_as_bearer_and_never_shown(addon, misbehaving, monkeypatch):
    monkeypatch.setenv("ATELIER_TEXT_SERVER_KEY", SECRET)
    misbehaving.script(body(401, '{"error": {"message": "invalid api key"}}'))
    config = _config(addon, misbehaving.url)
    job = _run(addon, config, _palette(addon))
    assert misbehaving.requests[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert job.error.code == "bad_request" and "check ATELIER_TEXT_SERVER_KEY" in job.error.hint
    client = addon.client.session.client_for(config)
    shown = [job.error.message, job.error.hint, client.log_tail(), repr(config)]
    assert not any(SECRET in text for text in shown)


def test_the_key_never_travels_unencrypted_to_another_machine(addon, monkeypatch):
    monkeypatch.setenv("ATELIER_TEXT_SERVER_KEY", SECRET)
    # 192.0.2.1 is TEST-NET-1: never contacted, the request is refused before connecting.
    config = _config(addon, "http://192.0.2.1:8000/v1", allow_network=True)
    job = _run(addon, config, _palette(addon))
    assert job.error.code == "bad_request" and "unencrypted" in job.error.message
    assert "https" in job.error.hint


def test_another_machine_is_asked_only_with_online_access(addon, monkeypatch):
    monkeypatch.delenv("ATELIER_TEXT_SERVER_KEY", raising=False)
    job = _run(addon, _config(addon, "https://192.0.2.1/v1"), _palette(addon))
    assert job.error.code == "bad_request" and "online access is off" in job.error.message
    assert "Allow Online Access" in job.error.hint


def test_a_url_holding_a_password_is_refused_without_repeating_it(addon, misbehaving):
    url = misbehaving.url.replace("http://", "http://artist:hunter2@")
    job = _run(addon, _config(addon, url), _palette(addon))
    assert job.error.code == "bad_request" and "user name or password" in job.error.message
    assert "hunter2" not in _error(job) and "ATELIER_TEXT_SERVER_KEY" in job.error.hint


def test_a_url_with_a_query_string_is_refused_without_repeating_it(addon, misbehaving):
    """A query string is where some services put a key; dropping it silently would send none."""
    misbehaving.script(stream(json.dumps(GOOD_PALETTE)))
    job = _run(addon, _config(addon, f"{misbehaving.url}?api_key={SECRET}"), _palette(addon))
    assert job.error.code == "bad_request" and "has a query string" in job.error.message
    assert SECRET not in _error(job) and "ATELIER_TEXT_SERVER_KEY" in job.error.hint
    assert misbehaving.requests == []


def test_a_key_the_server_echoes_in_its_error_is_blanked_out(addon, misbehaving, monkeypatch):
    """In an error page and in an error event in the stream."""
    monkeypatch.setenv("ATELIER_TEXT_SERVER_KEY", SECRET)
    said = json.dumps({"error": {"message": f"bad token {SECRET} for this model"}})
    for answer in (body(500, said), body(200, f"data: {said}\n\n", "text/event-stream")):
        misbehaving.script(answer)
        job = _run(addon, _config(addon, misbehaving.url), _palette(addon))
        assert job.error.code == "invalid_output", _error(job)
        assert "bad token *** for this model" in job.error.message
        assert SECRET not in _error(job)


def test_without_a_model_name_the_only_model_served_is_used(addon, misbehaving):
    misbehaving.script(stream(json.dumps(GOOD_PALETTE)))
    job = _run(addon, _config(addon, misbehaving.url, model=""), _palette(addon))
    assert job.error is None, _error(job)
    assert [r["path"] for r in misbehaving.requests] == ["/v1/models", "/v1/chat/completions"]
    assert misbehaving.requests[1]["body"]["model"] == MODEL
    misbehaving.models = [MODEL, "another-model"]
    try:
        job = _run(addon, _config(addon, misbehaving.url, model="", connect_timeout=4.0), _palette(addon))
    finally:
        misbehaving.models = [MODEL]
    assert job.error.code == "model_missing"
    assert "serves 2 models (scripted-model, another-model)" in job.error.message
    assert "Text Server Model" in job.error.hint


def test_requests_a_text_server_does_not_answer_are_refused(addon, misbehaving):
    protocol = addon.core.protocol
    misbehaving.script(stream(json.dumps(GOOD_PALETTE)))
    request = protocol.PaletteRequest(id="harmony-1", source="harmony", base_color="#336699", count=4,
                                      harmony="complementary")
    job = _run(addon, _config(addon, misbehaving.url), request)
    assert job.error.code == "bad_request"
    assert job.error.message == ("the text server answers palettes from a prompt and scene ideas, "
                                 "not a palette from 'harmony'")
    assert misbehaving.requests == []


def test_a_url_without_v1_or_with_the_endpoint_reaches_the_api(addon, misbehaving):
    root = misbehaving.url.removesuffix("/v1")
    for url in (root, f"{root}/", f"{misbehaving.url}/chat/completions"):
        misbehaving.script(stream(json.dumps(GOOD_PALETTE)))
        job = _run(addon, _config(addon, url), _palette(addon))
        assert job.error is None, _error(job)
        assert [r["path"] for r in misbehaving.requests] == ["/v1/chat/completions"]
        assert job.result.provenance.model_source == misbehaving.url
