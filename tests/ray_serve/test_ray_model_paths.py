"""Which ``model`` values a remote request may name: hub ids and plain names, and paths only
inside the server's model folders (links followed)."""

import pytest

from backend.ray_serve.vetting import model_allowed, model_dirs


@pytest.fixture
def folders(tmp_path, monkeypatch):
    allowed = tmp_path / "models"
    (allowed / "tiny-sd").mkdir(parents=True)
    outside = tmp_path / "private"
    outside.mkdir()
    (allowed / "escape").symlink_to(outside, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return allowed, outside


@pytest.mark.parametrize("model", ["stabilityai/sdxl-turbo", "classic", "marigold", "{allowed}/tiny-sd",
                                   "{allowed}", "{allowed}/not-there-yet"])
def test_allowed(folders, model):
    allowed, _ = folders
    assert model_allowed(model.format(allowed=allowed), [allowed.resolve()])


@pytest.mark.parametrize("model", ["{outside}", "/etc", "{allowed}/escape", "{allowed}/../private",
                                   "./models", "~/models", "~no-such-user-atelier/x", "models/tiny-sd",
                                   "private"])
def test_refused(folders, model):
    """Relative paths are refused even inside a model folder (the working folder is ``tmp_path``
    here): ``models/tiny-sd`` and ``private`` exist there, so they are paths, not hub ids or names,
    and what a relative path names depends on the process that loads it."""
    allowed, outside = folders
    assert not model_allowed(model.format(allowed=allowed, outside=outside), [allowed.resolve()])


def test_model_dirs_from_flags_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ATELIER_SERVE_MODEL_DIRS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert model_dirs([]) == [tmp_path / "a", tmp_path / "b"]
    assert model_dirs([str(tmp_path / "c")]) == [tmp_path / "c"]
