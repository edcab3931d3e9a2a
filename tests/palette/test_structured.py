"""Schema-constrained generation with a tiny random-weight instruct model."""

import json
import threading

import jsonschema
import pytest

from backend import structured
from backend.text_model import load_text_model
from core import palette_prompt, protocol
from core.errors import Cancelled

SEEDS = range(8)
MESSAGES = palette_prompt.messages("a rainy neon alley", 5)


@pytest.fixture
def lm(make_job, tiny_text_model):
    _, job = make_job(model=str(tiny_text_model))
    return job, load_text_model(job, str(tiny_text_model))


@pytest.mark.parametrize("count, seeds", [(3, SEEDS), (12, SEEDS[:4])])
def test_constrained_answers_are_always_schema_valid(lm, count, seeds):
    job, model = lm
    schema = palette_prompt.schema_for(count)
    grammar = structured.compiled_grammar(model, schema)
    budget = structured.token_budget(schema)
    for seed in seeds:
        text, tokens = structured.generate_text(job, model, MESSAGES, grammar=grammar,
                                                max_new_tokens=budget, seed=seed)
        document = json.loads(text)
        jsonschema.validate(document, schema)
        assert len(document["colors"]) == count
        assert tokens < budget  # ended by the grammar, not cut off by the budget


# Every kind of bound token_budget relies on, so a wrong assumption shows as a cut-off answer.
EVERY_BOUND = {
    "type": "object",
    "properties": {
        "free": {"type": "string", "pattern": "^[^\\x00-\\x1f\"\\\\]{0,12}$"},
        "kind": {"enum": ["a", "bb", 3, None]},
        "level": {"type": "integer", "minimum": -50, "maximum": 900},
        "scale": {"type": "number", "minimum": -2, "maximum": 40},
        "flag": {"type": "boolean"},
        "tags": {"type": "array", "maxItems": 4, "items": {"type": "string", "pattern": "^[a-z]{1,6}$"}},
        "spot": {"$ref": "#/$defs/spot"},
    },
    "required": ["free", "kind", "level", "scale", "flag", "tags", "spot"],
    "additionalProperties": False,
    "$defs": {"spot": {"type": "object", "properties": {"x": {"type": "integer", "minimum": 0,
                                                              "maximum": 9}},
                       "required": ["x"], "additionalProperties": False}},
}


def test_every_kind_of_bound_ends_inside_the_budget(lm):
    job, model = lm
    grammar = structured.compiled_grammar(model, EVERY_BOUND)
    budget = structured.token_budget(EVERY_BOUND)
    for seed in SEEDS:
        text, tokens = structured.generate_text(job, model, MESSAGES, grammar=grammar,
                                                max_new_tokens=budget, seed=seed)
        jsonschema.validate(json.loads(text), EVERY_BOUND)
        assert tokens < budget


def test_the_same_model_without_the_grammar_does_not_give_valid_documents(lm):
    job, model = lm
    schema = palette_prompt.schema_for(5)
    budget = structured.token_budget(schema)  # the same budget the constrained run gets
    for seed in SEEDS:
        text, _ = structured.generate_text(job, model, MESSAGES, max_new_tokens=budget, seed=seed)
        with pytest.raises((json.JSONDecodeError, jsonschema.ValidationError)):
            jsonschema.validate(json.loads(text), schema)


def test_progress_is_reported_per_chunk_of_tokens(lm):
    job, model = lm
    schema = palette_prompt.schema_for(3)
    structured.generate_text(job, model, MESSAGES, grammar=structured.compiled_grammar(model, schema),
                             max_new_tokens=structured.token_budget(schema), seed=0)
    steps = [event.step for event in job.events if event.type == "progress"]
    assert len(steps) >= 3
    assert steps == sorted(steps)
    assert all(step % structured.PROGRESS_EVERY == 0 for step in steps[:-1])


def test_cancel_stops_generation_between_tokens(lm, model_cache):
    """The client cancels when the first progress event arrives; no second one follows."""
    from backend.task_context import JobContext

    _, model = lm
    cancel, events = threading.Event(), []

    def emit(event):
        events.append(event)
        cancel.set()

    job = JobContext(protocol.PaletteRequest(id="cancel-me", device="cpu"), model_cache, emit, cancel)
    with pytest.raises(Cancelled):
        structured.generate_json(job, model, schema=palette_prompt.schema_for(12), messages=MESSAGES, seed=0)
    assert [e.step for e in events] == [structured.PROGRESS_EVERY]


def test_budget_holds_the_longest_document_the_schema_allows():
    schema = palette_prompt.schema_for(12)
    longest = {
        "title": "T" * 40,
        "colors": [{"hex": "#abcdef", "name": "N" * 24, "role": "background"}] * 12,
    }
    jsonschema.validate(longest, schema)
    compact = json.dumps(longest, separators=(",", ":"))
    assert len(compact) < structured.token_budget(schema)
    assert structured.token_budget(schema) < 8 * len(compact)  # bounded, not arbitrary


@pytest.mark.parametrize("schema, part", [
    ({"type": "string"}, "pattern"),
    ({"type": "string", "maxLength": 9}, "pattern"),
    ({"type": "string", "pattern": "^[a-z]+$"}, "any length"),
    ({"type": "array", "items": {"type": "boolean"}}, "maxItems"),
    ({"type": "integer", "minimum": 0}, "minimum and maximum"),
    ({"type": "object", "properties": {}, "additionalProperties": True}, "extra properties"),
])
def test_unbounded_schemas_are_refused(schema, part):
    with pytest.raises(ValueError, match=part):
        structured.token_budget(schema)
