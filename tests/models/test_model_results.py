"""The model manager's results come from a backend that may be remote: every field is checked."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.results import ModelsResult, ResultError, parse_result

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ROW = {"id": "owner/model", "kind": "texture", "licence": "Apache-2.0", "commercial_use": True,
       "download_gb": 1.5, "gpu_gib": None, "source": "the hub", "purpose": "textures",
       "revisions": [{"revision": COMMIT, "refs": ["main", "refs/pr/1"], "size_bytes": 2**40, "files": 3,
                      "atelier": True}]}


def _parse(task: str, data: dict):
    return parse_result(task, SimpleNamespace(id="job", files=[], metadata={}, data=data), None)


def test_a_well_formed_models_result():
    result = _parse("models", {"models": [ROW]})
    assert isinstance(result, ModelsResult)
    row = result.models[0]
    assert (row.id, row.download_gb, row.gpu_gib, row.revisions[0].refs) == \
        ("owner/model", 1.5, None, ("main", "refs/pr/1"))


@pytest.mark.parametrize(("change", "message"), [
    ({"id": "../etc"}, "the result's 'id' is not a Hugging Face model id"),
    ({"id": "owner/.."}, "the result's 'id' is not a Hugging Face model id"),
    ({"kind": "virus"}, "model row 1 has an unknown kind"),
    ({"commercial_use": "yes"}, "the result's 'commercial_use' must be true or false"),
    ({"download_gb": -1}, "the result's 'download_gb' must not be negative"),
    ({"gpu_gib": "8"}, "the result's 'gpu_gib' must be a finite number"),
    ({"licence": "x" * 301}, "the result's 'licence' is longer than 300 characters"),
    ({"revisions": [{**ROW["revisions"][0], "revision": "main"}]}, "must be a 40-character commit hash"),
    ({"revisions": [{**ROW["revisions"][0], "refs": ["../x"]}]}, "refs must be a list of branch or tag"),
    ({"revisions": [{**ROW["revisions"][0], "size_bytes": True}]}, "'size_bytes' must be a whole number"),
    ({"revisions": [{**ROW["revisions"][0], "size_bytes": -5}]}, "'size_bytes' must be a whole number"),
    ({"revisions": [ROW["revisions"][0]] * 51}, "revisions must be a list of at most 50"),
])
def test_a_models_row_of_the_wrong_shape_is_refused(change, message):
    with pytest.raises(ResultError, match=message.replace("(", r"\(")):
        _parse("models", {"models": [{**ROW, **change}]})


def test_too_many_rows_are_refused():
    with pytest.raises(ResultError, match="at most 500 rows"):
        _parse("models", {"models": [ROW] * 501})


def test_download_and_delete_results():
    data = {"model": "owner/model", "revision": COMMIT, "files": 3, "bytes": 10, "skipped": 1,
            "licence": "mit", "commercial_use": True, "atelier": False}
    assert _parse("download", data).bytes == 10
    with pytest.raises(ResultError, match="'bytes' must be a whole number"):
        _parse("download", {**data, "bytes": 1.5})
    with pytest.raises(ResultError, match="'atelier' must be true or false"):
        _parse("download", {**data, "atelier": None})
    deleted = _parse("delete_model", {"model": "owner/model", "revision": COMMIT, "freed_bytes": 0})
    assert deleted.freed_bytes == 0
    with pytest.raises(ResultError, match="'revision' must be a 40-character commit hash"):
        _parse("delete_model", {"model": "owner/model", "revision": COMMIT.upper(), "freed_bytes": 0})
