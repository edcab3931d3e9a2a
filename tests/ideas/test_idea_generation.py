"""The ``ideas`` task: constrained decoding with a tiny random-weight model, the semantic retry
(with canned answers), request checks, and the CLI."""

import copy
import json
import re

import jsonschema
import pytest
from backend_process import run_backend

from backend import structured
from backend.tasks import ideas
from backend.text_model import load_text_model
from core import ideas as idea_rules
from core import protocol
from core.errors import TaskError

SEEDS = range(4)
IDEA_SCHEMA = jsonschema.Draft202012Validator(idea_rules.load_schema())


def small(schema: dict) -> dict:
    """``schema`` with every text at most 6 characters and every list at most 2 items.

    Still a subset of the real schema, so what is valid here is a valid idea; the random model
    just has less to write.
    """
    schema = copy.deepcopy(schema)
    for definition in schema["$defs"].values():
        if "pattern" in definition:
            definition["pattern"] = re.sub(r"\{1,\d+\}\$$", "{1,6}$", definition["pattern"])

    def shrink(node):
        if isinstance(node, dict):
            if node.get("type") == "array" and node["maxItems"] > 3:
                node["maxItems"] = 2
            for value in node.values():
                shrink(value)

    shrink(schema)
    return schema


@pytest.fixture
def lm(make_job, tiny_text_model):
    _, job = make_job(prompt="a reading nook", count=1, model=str(tiny_text_model))
    return job, load_text_model(job, str(tiny_text_model))


def test_constrained_answers_are_always_valid_ideas(lm):
    job, model = lm
    schema = small(ideas.generation_schema(1))
    grammar = structured.compiled_grammar(model, schema)
    budget = structured.token_budget(schema)
    for seed in SEEDS:
        text, tokens = structured.generate_text(job, model, ideas.messages("a reading nook", 1, ""),
                                                grammar=grammar, max_new_tokens=budget, seed=seed)
        assert tokens < budget  # ended by the grammar, not cut off
        (idea,) = json.loads(text)["ideas"]
        assert idea_rules.schema_problems(idea) == [], text
        assert IDEA_SCHEMA.is_valid(idea)


def test_under_the_full_grammar_the_answer_is_a_valid_idea(lm):
    """Once at full size (a few seconds): the schema as the task sends it, nothing shrunk."""
    job, model = lm
    schema = ideas.generation_schema(1)
    budget = structured.token_budget(schema)
    text, tokens = structured.generate_text(job, model, ideas.messages("a reading nook", 1, ""),
                                            grammar=structured.compiled_grammar(model, schema),
                                            max_new_tokens=budget, seed=0)
    assert tokens < budget
    (idea,) = json.loads(text)["ideas"]
    assert idea_rules.schema_problems(idea) == [], text
    assert IDEA_SCHEMA.is_valid(idea)


def test_the_same_model_without_the_grammar_gives_no_valid_idea(lm):
    job, model = lm
    schema = small(ideas.generation_schema(1))
    budget = structured.token_budget(schema)  # the same budget the constrained run gets
    for seed in SEEDS:
        text, _ = structured.generate_text(job, model, ideas.messages("a reading nook", 1, ""),
                                           max_new_tokens=budget, seed=seed)
        with pytest.raises(idea_rules.IdeaError):
            idea_rules.check_ideas_document(text, 1)


def test_without_a_seed_one_is_drawn_recorded_and_reproduces(make_job, tiny_text_model, canned, nook,
                                                             generated_texts):
    """The same seed gives the same ideas, and a request without one gets a seed it records."""
    request, job = make_job(prompt="a reading nook", count=1, seed=None, model=str(tiny_text_model))
    first = generated_texts(lambda: ideas.run(request, job))
    drawn = job.seed  # the seed the job drew, the one its record carries
    request, job = make_job(prompt="a reading nook", count=1, seed=drawn, model=str(tiny_text_model))
    assert generated_texts(lambda: ideas.run(request, job)) == first
    canned([nook])
    request, job = make_job(prompt="a reading nook", count=1, seed=None, model=str(tiny_text_model))
    recorded = ideas.run(request, job).metadata["parameters"]["seed"]
    assert isinstance(recorded, int) and 0 <= recorded <= protocol.SEED_MAX and recorded == job.seed


# --------------------------------------------------------------------------- the retry


@pytest.fixture
def canned(canned_answers):
    """The model answers these lists of ideas, in order; returns what it was asked."""
    return lambda *answers: canned_answers(*(json.dumps({"ideas": answer}) for answer in answers))


def _lump(nook):
    nook = copy.deepcopy(nook)
    nook["objects"][5].update(location=nook["objects"][1]["location"], scale=[0.9, 0.9, 0.9])
    return nook


OVERLAP = "Idea 1: objects 'Armchair' and 'Globe' take up mostly the same space"


def test_a_layout_problem_is_told_to_the_model_which_fixes_it(make_job, tiny_text_model, canned, nook):
    asked = canned([_lump(nook)], [nook])
    request, job = make_job(prompt="a reading nook", count=1, model=str(tiny_text_model))
    output = ideas.run(request, job)
    assert output.data["ideas"] == [nook]
    assert output.metadata["attempts"] == 2
    assert output.metadata["schema_version"] == idea_rules.SCHEMA_VERSION
    assert len(asked) == 2
    retry = asked[1][-1]
    assert retry["role"] == "user" and OVERLAP in retry["content"]
    assert asked[1][-2] == {"role": "assistant", "content": json.dumps({"ideas": [_lump(nook)]})}


def test_a_good_first_answer_needs_no_retry(make_job, tiny_text_model, canned, nook):
    asked = canned([nook])
    request, job = make_job(prompt="a reading nook", count=1, model=str(tiny_text_model))
    assert ideas.run(request, job).metadata["attempts"] == 1
    assert len(asked) == 1


def test_a_camera_looking_away_is_repaired_without_asking_the_model_again(make_job, tiny_text_model, canned,
                                                                           nook):
    away = copy.deepcopy(nook)
    away["camera"]["target"] = [0, -20, 1.6]
    asked = canned([away])
    request, job = make_job(prompt="a reading nook", count=1, model=str(tiny_text_model))
    output = ideas.run(request, job)
    assert len(asked) == 1 and output.metadata["attempts"] == 1
    (idea,) = output.data["ideas"]
    assert idea["objects"] == nook["objects"]  # the model's own objects, not a template's
    assert all(idea_rules.framed(idea["camera"], obj["location"]) for obj in idea["objects"])
    assert idea_rules.semantic_problems(idea) == []
    (repair,) = output.data["repairs"]
    assert repair.startswith("idea 1: the camera at (0, -5.5, 1.6) looking at (0, -20, 1.6) did not frame "
                             "all 9 objects; it was aimed at the middle of the layout")


def test_a_layout_problem_left_after_the_retry_is_reported_not_refused(make_job, tiny_text_model, canned,
                                                                        nook):
    asked = canned([_lump(nook)], [_lump(nook)])
    request, job = make_job(prompt="a reading nook", count=1, model=str(tiny_text_model))
    output = ideas.run(request, job)
    assert len(asked) == 2 and output.metadata["attempts"] == 2
    assert output.data["ideas"] == [_lump(nook)]
    (left,) = output.data["repairs"]
    assert left.startswith(f"not fixed by the second try: {OVERLAP}")


def test_of_two_flawed_answers_the_one_with_fewer_problems_is_kept(make_job, tiny_text_model, canned, nook):
    worse = _lump(nook)
    worse["objects"][6].update(location=worse["objects"][2]["location"], scale=[0.5, 0.5, 0.6],
                               primitive="cylinder")  # a second lump
    canned([_lump(nook)], [worse])
    request, job = make_job(prompt="a reading nook", count=1, model=str(tiny_text_model))
    output = ideas.run(request, job)
    assert output.data["ideas"] == [_lump(nook)]
    assert len(output.data["repairs"]) == 1


def _not_a_number(nook):
    return json.dumps({"ideas": [nook]}).replace('"lens": 35', '"lens": NaN')


def test_an_unreadable_second_answer_does_not_replace_a_flawed_first_one(make_job, tiny_text_model,
                                                                         canned_answers, nook):
    canned_answers(json.dumps({"ideas": [_lump(nook)]}), _not_a_number(nook))
    request, job = make_job(prompt="a reading nook", count=1, model=str(tiny_text_model))
    assert ideas.run(request, job).data["ideas"] == [_lump(nook)]


def test_only_an_answer_with_nothing_buildable_is_an_error(make_job, tiny_text_model, canned_answers, nook):
    canned_answers(_not_a_number(nook), _not_a_number(nook))
    request, job = make_job(prompt="a reading nook", count=1, model=str(tiny_text_model))
    with pytest.raises(TaskError) as caught:
        ideas.run(request, job)
    assert caught.value.code == "invalid_output" and caught.value.hint
    assert "failed the check twice" in caught.value.message
    assert "NaN is not a number JSON allows" in caught.value.message


def test_every_idea_of_a_document_is_checked(make_job, tiny_text_model, canned, nook):
    asked = canned([nook, _lump(nook)], [nook, nook])
    request, job = make_job(prompt="a reading nook", count=2, model=str(tiny_text_model))
    assert ideas.run(request, job).data["ideas"] == [nook, nook]
    assert OVERLAP.replace("Idea 1", "Idea 2") in asked[1][-1]["content"]


# --------------------------------------------------------------------------- requests


@pytest.mark.parametrize("fields, says", [
    ({"prompt": ""}, "the prompt is empty"),
    ({"prompt": "  "}, "the prompt is empty"),
    ({"count": 0}, "count must be a whole number from 1 to 5, got 0"),
    ({"count": 6}, "count must be a whole number from 1 to 5, got 6"),
    ({"context": {"objects": []}}, "unknown context field(s) objects"),
    ({"context": {"selected": [{"name": "Chair", "dimensions": [1, "x", 2]}]}},
     "context.selected[0].dimensions must be three finite numbers"),
    ({"context": {"palette": ["orange"]}}, "context.palette must be a list of #rrggbb colours"),
])
def test_bad_requests_are_refused_before_any_model_loads(make_job, fields, says):
    fields = {"prompt": "a nook", "count": 1, "model": "no/such-model", **fields}
    request, job = make_job(**fields)
    with pytest.raises(TaskError) as caught:
        ideas.run(request, job)
    assert caught.value.code == "bad_request" and says in caught.value.message


def test_the_scene_context_reaches_the_prompt_cleaned():
    context = ideas.describe_context({
        "selected": [{"name": "Chair\x1b[2J/../x", "dimensions": [0.5, 0.6, 0.9]}],
        "palette": ["#112233", "#ffcc00"],
    })
    assert context == ("Objects already in the scene (name: size in metres):\n"
                       "- Chair[2J-..-x: 0.5 x 0.6 x 0.9\n"
                       "Current palette: #112233, #ffcc00")
    (system, user) = ideas.messages("  a nook ", 2, context)
    assert "exactly 2 idea(s)" in system["content"]
    assert user["content"] == "Brief: a nook\n" + context


def test_the_cli_refuses_an_empty_prompt():
    done = run_backend("ideas", "", "--count", "1", "--device", "cpu")
    assert done.returncode == 1
    assert "error (bad_request): the prompt is empty" in done.stderr


def test_progress_counts_the_sections_of_each_idea_begun(nook):
    progress = ideas.sections_written(2)
    text = json.dumps({"ideas": [nook, nook]})
    assert progress("") == (0, 18)
    assert progress(text) == (18, 18)
    middle = text.index('"camera"', len(text) // 2)  # in the second idea, after its lights
    assert progress(text[:middle]) == (14, 18)
