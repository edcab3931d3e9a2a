"""Decoding refuses what valid JSON can still hide (numbers that overflow to infinity, text that
is not Unicode, nesting past any recursion limit), naming the field."""

import pytest

from core import protocol


@pytest.mark.parametrize("line, field", [
    ('{"type": "texture", "id": "t1", "guidance": -1e999}', "guidance"),
    ('{"type": "ideas", "id": "t1", "prompt": "a nook", '
     '"context": {"selected": [{"name": "Chair", "dimensions": [1, 1e999, 1]}]}}',
     "context.selected.0.dimensions.1"),
])
def test_overflowing_numbers_are_refused_with_their_path(line, field):
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.decode_request(line)
    assert caught.value.code == "bad_request" and caught.value.request_id == "t1"
    assert f"'{field}'" in caught.value.message and caught.value.hint


def test_large_finite_numbers_still_decode():
    request = protocol.decode_request('{"type": "ideas", "id": "t2", "prompt": "a nook", '
                                      '"context": {"selected": [{"dimensions": [1e300, 2, 3]}]}}')
    assert request.context["selected"][0]["dimensions"][0] == 1e300


def test_an_integer_too_long_for_a_double_is_refused_not_crashed_on():
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.decode_request('{"type": "texture", "id": "t3", "guidance": 1' + "0" * 400 + "}")
    assert caught.value.code == "bad_request" and "'guidance'" in caught.value.message


@pytest.mark.parametrize("line, says", [
    ("[" * 100_000, "nested more than"),
    ('{"type": "ideas", "id": "t4", "prompt": "x", "context": ' + '{"a": ' * 40 + "1" + "}" * 41,
     "field 'context' is nested more than"),
    ('{"type": "ideas", "id": "t4", "prompt": "a nook \\udfff"}', "field 'prompt' is not valid Unicode"),
    ('{"type": "ping", "id": "t4", "\\ud800": 1}', "a field name in the message is not valid Unicode"),
])
def test_lines_no_reader_or_writer_could_handle_are_refused(line, says):
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.decode_request(line)
    assert caught.value.code == "bad_request" and says in caught.value.message and caught.value.hint
