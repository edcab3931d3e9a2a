"""Downloads that cannot finish: each is a clear error, leaves the cache as it was, and the
backend serves the next request. Refusals that need no file (not found, pickle only, gated
without a token, a licence not accepted) are made before any file is asked for."""

from __future__ import annotations

import errno
import os
import resource
import signal
from contextlib import contextmanager

import pytest
from model_downloads import TINY_ID, cache_paths, put_in_cache

from backend.model_manager import _failure

UNET = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture
def other_model(hf_home, tiny_sd_model) -> str:
    """A model another tool put in the cache before the test (it must stay as it is)."""
    return put_in_cache(hf_home, "someone/else", tiny_sd_model)


def _fails(backend, request: dict, code: str) -> dict:
    final = backend.request(request)
    assert final["type"] == "error" and final["code"] == code, final
    assert backend.request({"type": "models", "id": f"after-{request['id']}"})["type"] == "result"
    return final


def test_a_cancel_midway_leaves_nothing_half_written(served, hub, hf_home, other_model, tiny_sd_model):
    older = put_in_cache(hf_home, TINY_ID, tiny_sd_model)  # an older revision of the same model stays
    before = cache_paths(hf_home)
    backend = served()
    hub.hold = UNET
    backend.send({"type": "download", "id": "dl", "model": TINY_ID})
    assert hub.held.wait(60), "the transfer never started"
    backend.send({"type": "cancel", "id": "stop", "job": "dl"})
    hub.release.set()
    events = backend.events_for("dl")
    assert events[-1]["code"] == "cancelled", events[-1]
    assert any(e["type"] == "progress" and 0 < e["step"] < e["total"] for e in events)
    assert cache_paths(hf_home) == before
    assert (hf_home / "hub" / "models--atelier-test--tiny-sd" / "refs" / "main").read_text() == older
    assert backend.request({"type": "models", "id": "list"})["type"] == "result"


def test_a_cancel_removes_only_what_the_download_created(served, hub, hf_home, other_model):
    """Files another process writes into the same folders while the download runs stay."""
    before = cache_paths(hf_home)
    backend = served()
    hub.hold = UNET
    backend.send({"type": "download", "id": "dl", "model": TINY_ID})
    assert hub.held.wait(60), "the transfer never started"
    repo = hf_home / "hub" / "models--atelier-test--tiny-sd"
    foreign = [repo / "blobs" / ("e" * 64), repo / "blobs" / ("e" * 64 + ".incomplete"),
               repo / "snapshots" / ("d" * 40) / "unet" / "config.json", repo / "refs" / "other-branch",
               hf_home / "hub" / ".locks" / repo.name / ("e" * 64 + ".lock"), hf_home / "hub" / "notes.txt"]
    for path in foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("written by another process")
    backend.send({"type": "cancel", "id": "stop", "job": "dl"})
    hub.release.set()
    assert backend.events_for("dl")[-1]["code"] == "cancelled"
    written = {str(folder.relative_to(hf_home)) for path in foreign
               for folder in (path, *path.parents) if hf_home in folder.parents}
    assert cache_paths(hf_home) == before | written
    assert all(path.read_text() == "written by another process" for path in foreign)


def test_a_cut_transfer_is_a_clear_error_and_leaves_the_cache_clean(served, hub, hf_home, other_model):
    before = cache_paths(hf_home)
    hub.cut[UNET] = 1000
    final = _fails(served(), {"type": "download", "id": "dl", "model": TINY_ID}, "model_missing")
    assert final["message"].startswith(f"the download of {TINY_ID} was cut off while fetching {UNET}: ")
    assert final["hint"] == "check the network connection and download again"
    assert cache_paths(hf_home) == before


def test_a_file_too_large_for_the_file_system_is_a_clear_error(start_backend, online, hub, hf_home):
    """Writing the UNet fails with EFBIG, as on a FAT32 disk past 4 GB (a file-size limit on the
    backend process makes the writes fail the same way)."""
    with _file_size_limit(2_000_000):  # more than the VAE, less than the UNet
        backend = start_backend(env=online)
    assert backend.next_event()["type"] == "hello"
    final = _fails(backend, {"type": "download", "id": "dl", "model": TINY_ID}, "model_missing")
    assert final["message"].startswith("the file system refuses files this large (e.g. FAT32's 4 GB limit) "
                                       f"while fetching {UNET}: {TINY_ID} cannot be put in the Hugging "
                                       f"Face cache {hf_home / 'hub'} (")
    assert final["message"].endswith("; nothing was kept")
    assert "HF_HUB_CACHE" in final["hint"] and "exFAT" in final["hint"]
    assert cache_paths(hf_home) == set()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_says_how_much_room_the_model_needs(code, tmp_path):
    """A full disk cannot be made here without mounting one, so the report is checked directly."""
    failure = _failure(OSError(code, os.strerror(code)), TINY_ID, "", None, tmp_path, 5_200_000)
    assert failure.code == "model_missing"
    assert failure.message == (f"the disk is full: {TINY_ID} needs about 5.2 MB in the Hugging Face cache "
                               f"{tmp_path} ([Errno {code}] {os.strerror(code)}); nothing was kept")
    assert "HF_HUB_CACHE" in failure.hint


@contextmanager
def _file_size_limit(limit: int):
    """Processes started inside inherit a ``limit``-byte file size limit, with SIGXFSZ ignored
    so a write past it fails with EFBIG instead of killing the process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_an_id_the_hub_does_not_know(served, hub, hf_home):
    final = _fails(served(), {"type": "download", "id": "dl", "model": "atelier-test/no-such-model"},
                   "model_missing")
    assert final["message"] == ("model 'atelier-test/no-such-model' was not found on the Hugging Face hub: "
                                "it was withdrawn or renamed (or is private)")
    assert not (hf_home / "hub").exists()


def test_an_unreachable_hub(served, hub, hf_home):
    offline_hub = served(HF_ENDPOINT="http://127.0.0.1:9")
    final = _fails(offline_hub, {"type": "download", "id": "dl", "model": TINY_ID}, "model_missing")
    assert final["message"].startswith(f"the Hugging Face hub could not be reached for {TINY_ID}: ")
    assert not (hf_home / "hub").exists()


def test_a_revision_the_hub_does_not_know(served, hub):
    final = _fails(served(), {"type": "download", "id": "dl", "model": TINY_ID, "revision": "v9"},
                   "model_missing")
    assert final["message"] == f"{TINY_ID} has no revision 'v9' on the hub"


def test_pickle_only_weights_are_refused_before_any_file_is_fetched(served, hub, hf_home):
    hub.add("atelier-test/pickled", {"config.json": b"{}", "pytorch_model.bin": b"pickle" * 100,
                                     "unet/config.json": b"{}", "unet/model.safetensors": b"ok"})
    final = _fails(served(), {"type": "download", "id": "dl", "model": "atelier-test/pickled"},
                   "model_invalid")
    assert final["message"].startswith("atelier-test/pickled holds weights only as pickle files in "
                                       "its top folder; loading a pickle can run arbitrary code")
    assert hub.files_asked("atelier-test/pickled") == []
    assert not (hf_home / "hub").exists()


def test_a_gated_repository_without_a_token_says_how_to_log_in(served, hub, hf_home, tiny_sd_files):
    hub.add("atelier-test/gated", dict(tiny_sd_files), gated=True)
    final = _fails(served(), {"type": "download", "id": "dl", "model": "atelier-test/gated"}, "bad_request")
    assert "is gated on the Hugging Face hub" in final["message"] and "no token is set" in final["message"]
    assert "HF_TOKEN" in final["hint"] and "`hf auth login`" in final["hint"]
    assert hub.files_asked("atelier-test/gated") == []


def test_a_gated_repository_that_refuses_the_token(served, hub, hf_home, tiny_sd_files, other_model):
    before = cache_paths(hf_home)
    hub.add("atelier-test/gated", dict(tiny_sd_files), gated=True)
    final = _fails(served(HF_TOKEN="hf_atelier_test_token"),
                   {"type": "download", "id": "dl", "model": "atelier-test/gated"}, "bad_request")
    assert final["message"] == ("atelier-test/gated is gated on the Hugging Face hub and the hub refused "
                                "this account's token")
    assert hub.files_asked("atelier-test/gated")  # it got as far as asking
    assert cache_paths(hf_home) == before


def test_a_non_commercial_licence_needs_accepting(served, hub, tiny_sd_files):
    hub.add("atelier-test/nc", dict(tiny_sd_files), licence="cc-by-nc-4.0")
    backend = served()
    final = _fails(backend, {"type": "download", "id": "dl", "model": "atelier-test/nc"}, "bad_request")
    assert final["message"].startswith("atelier-test/nc is under the cc-by-nc-4.0 "
                                       "(it restricts commercial use)")
    assert "--accept-licence" in final["hint"]
    assert hub.files_asked("atelier-test/nc") == []
    accepted = backend.request({"type": "download", "id": "ok", "model": "atelier-test/nc",
                                "accept_licence": True})
    assert accepted["type"] == "result" and accepted["data"]["commercial_use"] is False, accepted


def test_the_catalog_licence_wins_over_the_hub_tag(served, hub, tiny_sd_files):
    """A known model's licence comes from Atelier's table, whatever the hub's tag says."""
    hub.add("stabilityai/sdxl-turbo", dict(tiny_sd_files), licence="apache-2.0")
    final = _fails(served(), {"type": "download", "id": "dl", "model": "stabilityai/sdxl-turbo"},
                   "bad_request")
    assert final["message"].startswith("stabilityai/sdxl-turbo is under the Stability AI Community License "
                                       "(commercial use only below 1 M USD of annual revenue")


def test_downloads_are_refused_while_the_hub_is_offline(served, hub):
    final = _fails(served(HF_HUB_OFFLINE="1"), {"type": "download", "id": "dl", "model": TINY_ID},
                   "bad_request")
    assert final["message"] == "downloads are off: HF_HUB_OFFLINE is set for this backend"
    assert hub.asked == []


@pytest.mark.parametrize(("model", "revision", "message"), [
    ("../etc/passwd", "", "'../etc/passwd' is not a Hugging Face model id"),
    ("no-owner", "", "'no-owner' is not a Hugging Face model id"),
    (TINY_ID, "../main", "'../main' is not a revision name"),
    (TINY_ID, "a b", "'a b' is not a revision name"),
])
def test_malformed_names_are_refused(served, hub, model, revision, message):
    final = _fails(served(), {"type": "download", "id": "dl", "model": model, "revision": revision},
                   "bad_request")
    assert final["message"] == message
    assert hub.asked == []
