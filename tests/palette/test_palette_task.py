"""The backend ``palette`` task in process, and ``python -m backend palette`` as scripts use it."""

import json

import jsonschema
import pytest
from backend_process import run_backend
from PIL import Image, ImageDraw

from backend.tasks import palette
from core import palette_prompt, protocol
from core.errors import TaskError


def test_prompt_answers_from_a_random_model_are_always_complete_schemes(make_job, tiny_text_model):
    """Random weights repeat colours and forget the primary; every answer still lands, with
    ``count`` clearly different colours and a primary, and says how many were added."""
    added = []
    for seed in range(5):
        request, job = make_job(source="prompt", prompt="rainy neon alley", count=4, seed=seed,
                                model=str(tiny_text_model))
        output = palette.run(request, job)
        jsonschema.validate(output.data, palette_prompt.schema_for(4))
        _assert_distinct_with_a_primary(output.data)
        assert output.metadata["engine"] == "transformers" and output.metadata["attempts"] == 1
        assert output.metadata["parameters"]["prompt"] == "rainy neon alley"
        added.append(output.metadata["colors_added"])
    assert all(0 <= n < 4 for n in added)


def _assert_distinct_with_a_primary(document: dict) -> None:
    from coloraide import Color

    parsed = [Color(entry["hex"]) for entry in document["colors"]]
    assert all(parsed[i].delta_e(parsed[j], method="ok") >= palette_prompt.DISTINCT_DELTA_E
               for i in range(len(parsed)) for j in range(i))
    assert [entry["role"] for entry in document["colors"]].count("primary") >= 1


def test_same_seed_gives_the_same_palette(make_job, tiny_text_model, generated_texts):
    def written(seed):
        request, job = make_job(source="prompt", prompt="moss", count=3, seed=seed,
                                model=str(tiny_text_model))
        return generated_texts(lambda: palette.run(request, job))

    assert written(11) == written(11)
    assert written(12) != written(11)  # the seed is what decides


def test_progress_follows_the_colours_written(make_job, tiny_text_model):
    """The bar moves colour by colour (the token budget is only an upper bound) and never
    reports a step past its total."""
    request, job = make_job(source="prompt", prompt="rainy neon alley", count=6, seed=0,
                            model=str(tiny_text_model))
    try:
        palette.run(request, job)
    except TaskError:
        pass  # a refused answer was still written colour by colour
    progress = [e for e in job.events if e.type == "progress"]
    assert all(0 <= e.step <= e.total for e in progress)
    writing = [(e.step, e.total) for e in progress if e.stage == "writing the palette"]
    assert {total for _, total in writing} == {6}
    steps = [step for step, _ in writing]
    assert steps == sorted(steps) and steps[-1] == 6
    assert len(set(steps)) >= 4  # several colours reported on the way, not one jump at the end


def test_without_a_seed_one_is_drawn_recorded_and_reproduces(make_job, tiny_text_model, canned_answers,
                                                             generated_texts):
    request, job = make_job(source="prompt", prompt="moss", count=3, model=str(tiny_text_model))
    first = generated_texts(lambda: palette.run(request, job))
    drawn = job.seed  # the seed the job drew, the one its record carries
    request, job = make_job(source="prompt", prompt="moss", count=3, seed=drawn, model=str(tiny_text_model))
    assert generated_texts(lambda: palette.run(request, job)) == first
    canned_answers(GOOD)
    request, job = make_job(source="prompt", prompt="moss", count=3, model=str(tiny_text_model))
    recorded = palette.run(request, job).metadata["parameters"]["seed"]
    assert isinstance(recorded, int) and 0 <= recorded <= protocol.SEED_MAX and recorded == job.seed


def test_prompt_image_keeps_no_painted_image_and_records_its_seed(make_job, tiny_sd_model, tmp_path):
    def paint(**fields):
        return palette.run(*make_job(source="prompt_image", prompt="moroccan sunset", count=4,
                                     model=str(tiny_sd_model), **fields))

    output = paint()
    jsonschema.validate(output.data, palette_prompt.schema_for(4))
    assert list((tmp_path / "out").iterdir()) == []  # neither the image nor its job folder is left
    assert "image" not in output.metadata  # no path to a file that is gone
    seed = output.metadata["parameters"]["seed"]
    assert isinstance(seed, int) and output.metadata["texture"]["parameters"]["seed"] == seed
    assert output.metadata["colors_from_image"] + output.metadata["colors_added"] == 4
    assert paint(seed=seed).data == output.data


# --------------------------------------------------------------------------- completing a scheme


def _answer(*entries):
    return json.dumps({"title": "Alley", "colors": [{"hex": h, "name": "c", "role": r} for h, r in entries]},
                      separators=(",", ":"))


GOOD = _answer(("#101020", "background"), ("#ff0088", "primary"), ("#00ffee", "accent"))
NO_PRIMARY = _answer(("#101020", "background"), ("#ff0088", "secondary"), ("#00ffee", "accent"))
DUPLICATES = _answer(("#ff0088", "primary"), ("#ff0089", "secondary"), ("#00ffee", "accent"))
ONE_COLOUR = _answer(*[("#3366cc", "primary")] * 6)


def _prompt_request(make_job, tiny_text_model, count=3):
    return make_job(source="prompt", prompt="rainy neon alley", count=count, seed=4,
                    model=str(tiny_text_model))


def test_a_good_answer_is_kept_as_it_is_without_a_retry(make_job, tiny_text_model, canned_answers):
    asked = canned_answers(GOOD)
    output = palette.run(*_prompt_request(make_job, tiny_text_model))
    assert output.data == json.loads(GOOD)
    assert output.metadata["attempts"] == 1 and output.metadata["colors_added"] == 0
    assert len(asked) == 1
    assert "3 colours for: rainy neon alley" in asked[0][-1]["content"]


def test_repeated_colours_are_replaced_by_steps_of_the_model_s_own(make_job, tiny_text_model, canned_answers):
    asked = canned_answers(DUPLICATES)
    output = palette.run(*_prompt_request(make_job, tiny_text_model))
    assert len(asked) == 1  # completed, not sent back
    colors = output.data["colors"]
    assert colors[0] == {"hex": "#ff0088", "name": "c", "role": "primary"}
    assert colors[1] == {"hex": "#00ffee", "name": "c", "role": "accent"}  # the near copy went
    assert colors[2]["role"] in ("highlight", "shadow") and colors[2]["hex"] not in ("#ff0088", "#ff0089")
    assert output.metadata["colors_added"] == 1
    _assert_distinct_with_a_primary(output.data)
    jsonschema.validate(output.data, palette_prompt.schema_for(3))


def test_one_colour_said_six_times_becomes_six_steps_of_it(make_job, tiny_text_model, canned_answers):
    from coloraide import Color

    canned_answers(ONE_COLOUR)
    output = palette.run(*_prompt_request(make_job, tiny_text_model, count=6))
    colors = output.data["colors"]
    assert colors[0]["hex"] == "#3366cc" and output.metadata["colors_added"] == 5
    _assert_distinct_with_a_primary(output.data)
    jsonschema.validate(output.data, palette_prompt.schema_for(6))
    base = Color("#3366cc").convert("oklch")
    for added in colors[1:]:  # lighter and darker steps of the same hue, named and given a role
        step = Color(added["hex"]).convert("oklch")
        assert abs(step["hue"] - base["hue"]) < 25 or step["chroma"] < 0.03
        lighter = step["lightness"] > base["lightness"]
        assert added["role"] == ("highlight" if lighter else "shadow")
        assert added["name"].split()[-1] in ("blue", "indigo", "cyan", "grey", "black", "white")


def test_without_a_primary_the_first_colour_becomes_it(make_job, tiny_text_model, canned_answers):
    canned_answers(NO_PRIMARY)
    output = palette.run(*_prompt_request(make_job, tiny_text_model))
    assert [c["role"] for c in output.data["colors"]] == ["primary", "secondary", "accent"]
    assert output.metadata["colors_added"] == 0


def test_the_report_says_how_many_colours_were_added_and_why(make_job, tiny_text_model, canned_answers):
    """What Blender's report says, from the result as the client parses it."""
    from core.protocol import ResultEvent
    from core.results import parse_result

    canned_answers(ONE_COLOUR)
    output = palette.run(*_prompt_request(make_job, tiny_text_model, count=6))
    result = parse_result("palette", ResultEvent(id="p", metadata=output.metadata, data=output.data), None)
    assert result.colors_added == 5 and result.colors_from_image is None
    assert result.completion_note() == ("; the text model gave 1 distinct colour(s), so 5 lighter or darker "
                                        "step(s) of them complete the scheme")
    canned_answers(GOOD)
    output = palette.run(*_prompt_request(make_job, tiny_text_model))
    assert parse_result("palette", ResultEvent(id="p", metadata=output.metadata, data=output.data),
                        None).completion_note() == ""


@pytest.mark.parametrize("hex_value", ["#000000", "#ffffff", "#808080", "#ff0000", "#0a0b0c"])
@pytest.mark.parametrize("count", [3, 7, 12])
def test_any_single_colour_completes_to_any_count(hex_value, count):
    document = {"title": "One", "colors": [{"hex": hex_value, "name": "c", "role": "accent"}] * count}
    completed, added = palette_prompt.complete_scheme(document, count)
    assert added == count - 1
    jsonschema.validate(completed, palette_prompt.schema_for(count))
    _assert_distinct_with_a_primary(completed)


def test_image_and_harmony_sources(make_job, tmp_path):
    image = Image.new("RGB", (40, 40), (10, 120, 60))
    ImageDraw.Draw(image).rectangle((0, 0, 39, 9), fill=(250, 250, 240))
    image.save(tmp_path / "2_field#north.png")
    request, job = make_job(source="image", image=str(tmp_path / "2_field#north.png"), count=5)
    output = palette.run(request, job)
    jsonschema.validate(output.data, palette_prompt.schema_for(5))
    # The image holds two colours; lightness steps of them make up the five asked for.
    assert [c["hex"] for c in output.data["colors"][:2]] == ["#0a783c", "#fafaf0"]
    assert output.metadata["colors_from_image"] == 2 and output.metadata["colors_added"] == 3
    assert output.data["title"] == "field north"  # a title the schema allows

    request, job = make_job(source="harmony", harmony="complementary", base_color="#aa3300", count=4)
    output = palette.run(request, job)
    jsonschema.validate(output.data, palette_prompt.schema_for(4))
    assert output.data["colors"][0]["hex"] == "#aa3300"
    assert [e.stage for e in job.events if e.type == "progress"][-1] == "done"


def test_palettes_without_a_model_use_no_device(make_job):
    # Not even one that does not exist here: no model, no device, none in the record.
    request, job = make_job(source="harmony", harmony="triadic", base_color="#aa3300", count=3,
                            device="cuda:7")
    output = palette.run(request, job)
    assert output.metadata["device"] is None and output.metadata["dtype"] is None
    assert "device" not in vars(job)


@pytest.mark.parametrize("fields, words", [
    ({"source": "prompt", "prompt": " "}, "the prompt is empty"),
    ({"source": "prompt_image", "prompt": ""}, "the prompt is empty"),
    ({"source": "image", "image": ""}, "no image was given"),
    ({"source": "image", "image": "/no/such/file.png"}, "does not exist"),
    ({"source": "harmony", "harmony": "triadic", "base_color": ""}, "no base colour"),
    ({"source": "harmony", "harmony": "", "base_color": "#102030"}, "unknown harmony rule"),
    ({"source": "harmony", "harmony": "triadic", "base_color": "#10203"}, "is not a colour"),
    ({"source": "rainbow"}, "unknown palette source"),
    ({"source": "harmony", "harmony": "triadic", "base_color": "#102030", "count": 0}, "out of range"),
    ({"source": "prompt", "prompt": "x", "count": 99}, "out of range"),
])
def test_bad_requests_say_what_to_change(make_job, fields, words):
    request, job = make_job(**fields)
    with pytest.raises(TaskError) as failure:
        palette.run(request, job)
    assert failure.value.code == "bad_request"
    assert words in failure.value.message and failure.value.hint


def test_cli_prints_the_palette_as_json(tmp_path):
    done = run_backend("palette", "--source", "harmony", "--harmony", "tetradic", "--base-color", "#2266aa",
                       "--count", "5")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert len(body["data"]["colors"]) == 5 and body["data"]["colors"][0]["hex"] == "#2266aa"
    assert body["metadata"]["schema"] == "atelier.provenance/1"


def test_cli_prompt_image_paints_in_a_temporary_folder(tiny_sd_model, tmp_path):
    """Without --out-dir the painted image goes to a temporary folder, removed afterwards."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = run_backend("palette", "--source", "prompt_image", "moroccan sunset", "--model",
                       str(tiny_sd_model), "--count", "3", "--seed", "2", "--device", "cpu",
                       env={"TMPDIR": str(scratch)})
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["data"]["colors"]) == 3
    assert list(scratch.glob("atelier-*")) == []  # (torch keeps a cache of its own there)


def test_cli_failure_exits_non_zero_with_the_hint():
    done = run_backend("palette", "--source", "image", "--image", "/no/such.png")
    assert done.returncode != 0 and done.stdout == ""
    assert "does not exist" in done.stderr and "hint:" in done.stderr
