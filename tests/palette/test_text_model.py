"""Loading the instruct model: kept warm, safetensors only, clear errors for unusable models."""

import json
import shutil

import pytest

from backend.text_model import load_text_model
from core.errors import TaskError


def test_the_model_loads_once_and_stays_warm(make_job, tiny_text_model):
    _, job = make_job()
    first = load_text_model(job, str(tiny_text_model))
    _, another_job = make_job()
    assert load_text_model(another_job, str(tiny_text_model)) is first
    assert first.stop_token_ids == [first.tokenizer.convert_tokens_to_ids("<|im_end|>")]


def test_a_model_without_chat_template_is_refused(make_job, tiny_text_model, tmp_path):
    base = tmp_path / "base-model"
    shutil.copytree(tiny_text_model, base)
    (base / "chat_template.jinja").unlink()
    config = json.loads((base / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (base / "tokenizer_config.json").write_text(json.dumps(config))
    _, job = make_job()
    with pytest.raises(TaskError) as failure:
        load_text_model(job, str(base))
    assert failure.value.code == "model_invalid" and "chat template" in failure.value.message


def test_pickle_only_weights_are_refused(make_job, tiny_text_model, tmp_path):
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_text_model, pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    _, job = make_job()
    with pytest.raises(TaskError) as failure:
        load_text_model(job, str(pickled))
    assert failure.value.code == "model_invalid" and "pickle" in failure.value.message


@pytest.mark.parametrize("model, code", [("/no/such/model", "model_missing"),
                                         ("someone/not-downloaded-model", "model_missing"),
                                         ("builtin", "bad_request")])
def test_unusable_names_say_what_to_do(make_job, model, code):
    _, job = make_job()
    with pytest.raises(TaskError) as failure:
        load_text_model(job, model)
    assert failure.value.code == code and failure.value.hint
