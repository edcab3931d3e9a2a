"""``session.submit`` sends nothing the backend would skip or refuse for its form alone: a prompt
or negative prompt over ``limits.MAX_PROMPT_CHARS`` (any request kind that carries one), a line
over ``protocol.MAX_LINE_BYTES`` (which the backend skips without knowing whose it was, so the
job would wait for ever) and a number JSON cannot carry. Each is ``JobRefused`` saying what to
change, before the backend is started, with no job folder left behind."""

import dataclasses
import math

import pytest

HUGE = 5 * 2**20  # characters: a line of more than protocol.MAX_LINE_BYTES


@pytest.fixture
def unstarted(addon):
    """A backend client that has not started its backend: a refused request must leave it so."""
    client_module, session = addon.client.backend_client, addon.client.session
    client = client_module.BackendClient(addon.preferences.backend_config(session.EXTENSION_DIR))
    yield client
    client.stop()


def refusal(addon, client, request, folder=None) -> str:
    """Submit ``request`` expecting ``JobRefused``: its message, with nothing started, no job
    kept and (``folder``: the request's ``output_dir``) nothing made there."""
    session = addon.client.session
    with pytest.raises(session.JobRefused) as refused:
        session.submit(client, request, label="test")
    assert not client.running()
    assert request.id not in {job.id for job in session.active_jobs()}
    if folder is not None:
        assert list(folder.iterdir()) == []
    return str(refused.value)


def prompt_kinds(protocol) -> list:
    """(request class, field) for every request kind with a prompt field: textures, every image
    edit, palettes and scene ideas."""
    names = {"prompt", "negative_prompt"}
    return [(cls, f.name) for cls in protocol.REQUEST_TYPES.values()
            for f in dataclasses.fields(cls) if f.name in names]


def test_every_prompt_field_is_capped(addon, unstarted, tmp_path):
    protocol, limit = addon.core.protocol, addon.core.limits.MAX_PROMPT_CHARS
    kinds = prompt_kinds(protocol)
    assert {cls.type for cls, _ in kinds} == {"texture", "refine", "inpaint", "upscale", "project",
                                              "restyle", "palette", "ideas"}
    for cls, name in kinds:
        fields = {"id": addon.client.session.new_request_id(), name: "n" * (limit + 1)}
        if "output_dir" in {f.name for f in dataclasses.fields(cls)}:
            fields["output_dir"] = str(tmp_path)
        what = name.replace("_", " ")
        message = refusal(addon, unstarted, cls(**fields), tmp_path)
        assert message == f"the {what} has {limit + 1} characters; shorten it to {limit}", (cls, message)


def test_a_line_over_the_limit_is_refused_naming_the_longest_field(addon, unstarted, tmp_path):
    protocol, session = addon.core.protocol, addon.client.session
    request = protocol.TextureRequest(id=session.new_request_id(), prompt="bricks", model="m" * HUGE,
                                      output_dir=str(tmp_path))
    message = refusal(addon, unstarted, request, tmp_path)  # the job folder was made, then removed
    assert "more than the backend reads in one line (4,194,304)" in message
    assert message.endswith("shorten its longest field, 'model'")
    # An idea's scene context may be long (it is no prompt); only the line's limit holds it back.
    ideas = protocol.IdeasRequest(id=session.new_request_id(), prompt="a harbour",
                                  context={"objects": ["x" * 200] * 500})
    assert session.request_problem(ideas) == ""
    ideas.context = {"objects": ["x" * 200] * 25_000}
    assert refusal(addon, unstarted, ideas).endswith("shorten its longest field, 'context'")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_number_json_cannot_carry_is_refused(addon, unstarted, tmp_path, value):
    protocol, session = addon.core.protocol, addon.client.session
    request = protocol.TextureRequest(id=session.new_request_id(), prompt="bricks", guidance=value,
                                      output_dir=str(tmp_path))
    message = refusal(addon, unstarted, request, tmp_path)
    assert message == "the texture request cannot be sent: field 'guidance' must be a finite number; " \
                      "change that setting"
    strength = protocol.RefineRequest(id=session.new_request_id(), prompt="bricks", strength=value,
                                      output_dir=str(tmp_path))
    assert "field 'strength' must be a finite number" in refusal(addon, unstarted, strength, tmp_path)


def test_text_that_is_not_unicode_is_refused(addon, unstarted, tmp_path):
    protocol, session = addon.core.protocol, addon.client.session
    request = protocol.TextureRequest(id=session.new_request_id(), prompt="bricks \udfff",
                                      output_dir=str(tmp_path))
    assert "field 'prompt' is not valid Unicode text" in refusal(addon, unstarted, request, tmp_path)


def test_a_request_at_the_limits_is_sent(addon, unstarted, tmp_path, monkeypatch):
    """The checks refuse only what is over: a prompt of exactly the cap goes to the backend."""
    protocol, session = addon.core.protocol, addon.client.session
    sent = []
    monkeypatch.setattr(unstarted, "submit", sent.append)  # the line as sent is checked above
    limit = addon.core.limits.MAX_PROMPT_CHARS
    request = protocol.TextureRequest(id=session.new_request_id(), prompt="p" * limit,
                                      negative_prompt="n" * limit, output_dir=str(tmp_path))
    job = session.submit(unstarted, request, label="test")
    try:
        assert [r.id for r in sent] == [request.id] and job.folder.path.parent == tmp_path.resolve()
    finally:
        session.abandon(job, "test over")  # never started: the job ends here, its folder goes
    assert list(tmp_path.iterdir()) == []
