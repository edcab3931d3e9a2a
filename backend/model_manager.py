"""Atelier's model manager: what the Hugging Face cache holds, downloads, and deletions.

- **Listing** reads the cache only (``huggingface_hub.scan_cache_dir`` on the cache
  huggingface_hub resolves: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
  ``~/.cache/huggingface/hub``): for every model of ``core.model_catalog`` (and every other
  model Atelier downloaded) its cached revisions, their refs and size, and whether Atelier
  downloaded them.
- **Downloading** first lists the repository's files. It refuses, before any file is
  fetched, a repository whose weights in some folder are only pickle files (``model_invalid``),
  a licence that restricts commercial use unless ``accept_licence`` is set, and a gated
  repository when no token is there (``bad_request``; the token comes from ``HF_TOKEN`` or
  ``hf auth login``, never from Blender's files). It then fetches, one file at a time
  (``hf_hub_download``), only the files Atelier loads: ``.safetensors`` weights, JSON configs,
  text and SentencePiece tokenizer files; not a diffusers repository's single-file checkpoints
  at its top level, not a 16-bit copy (``*.fp16.safetensors``) of weights that exist in full
  precision, nor what ``core.texture_models`` says to skip. Progress counts bytes. A cancel
  is honoured between files and inside a file at its next chunk. On a cancel or any failure
  (a cut transfer, a full disk, a refused token) every path this download created in the cache
  is removed again (partial blobs, links, the snapshot folder, the ref, lock files): the paths
  are listed from the repository's file metadata before the download starts (``_Footprint``),
  so nothing that was there before is touched, nor what another process writes meanwhile.
- **Atelier's record** of what it downloaded is one JSON file it owns:
  ``$ATELIER_STATE_DIR/atelier-downloads.json`` when that variable is set, else
  ``atelier-downloads.json`` in huggingface_hub's home folder (``HF_HOME``, by default
  ``~/.cache/huggingface``), beside the cache. Each entry names the cache folder, the model and
  the commit, so one record serves several caches. A revision enters the record only when this
  download created its snapshot folder. It is changed under a lock file beside it.
- **Deleting** removes a revision only when the record holds it (``hf cache delete`` is the
  tool for the rest), through huggingface_hub's own deletion (blobs other revisions share stay),
  narrowed to the model's own folder (the same commit may be cached under another).

A full disk, and a file too large for the file system (FAT32), are reported as ``model_missing``:
the model could not be put in the cache and is still missing; the request itself was fine (not
``bad_request``) and nothing is broken (not ``internal``); the hint says how much room the model
needs, or which file systems take large files, and how to move the cache.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import json
import os
import posixpath
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core import model_catalog, texture_models
from core.errors import Cancelled, TaskError, first_line

from .models import HUB_ID, PICKLE_SUFFIXES, network_allowed, not_found_on_hub

RECORD_NAME = "atelier-downloads.json"
STATE_DIR_ENV = "ATELIER_STATE_DIR"
# The files Atelier loads: weights, configs and tokenizers. SentencePiece ``.model`` files are
# protobuf data, not pickle.
ALLOW_PATTERNS = ("*.safetensors", "*.json", "*.txt", "*.model")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REVISION = re.compile(r"^[\w.-]+(/[\w.-]+)*$")
# A diffusers weight variant in a file name: ``x.fp16.safetensors``, ``x.fp16-00001-of-00002...``,
# ``x.safetensors.index.fp16.json``.
_VARIANT = re.compile(r"\.(fp16|bf16|non_ema)(?=[.-])")
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_PROGRESS_STEPS = 200  # progress events per download at most (plus one per file)
LOGIN_HINT = "set HF_TOKEN to a Hugging Face access token, or log in once with `hf auth login`"


# --------------------------------------------------------------------------- where things are


def cache_dir() -> Path:
    """The Hugging Face cache folder, as huggingface_hub resolves it."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE).expanduser().resolve()


def record_path() -> Path:
    """Atelier's record of its downloads (see the module's docstring)."""
    state = os.environ.get(STATE_DIR_ENV, "").strip()
    if state:
        return Path(state).expanduser() / RECORD_NAME
    from huggingface_hub import constants

    return Path(constants.HF_HOME).expanduser() / RECORD_NAME


def check_model_id(model: str) -> str:
    """``model`` trimmed when it is a hub id (``owner/name``), else a ``bad_request``."""
    model = model.strip()
    if not HUB_ID.match(model) or ".." in model:
        raise TaskError("bad_request", f"{model[:100]!r} is not a Hugging Face model id",
                        hint="give an id such as owner/name, e.g. " + model_catalog.CATALOG[0].id)
    return model


# --------------------------------------------------------------------------- the record


def load_record() -> list[dict]:
    """The downloads Atelier recorded, for every cache. A missing file is an empty record; an
    unreadable one too, so that nothing can be deleted on its word."""
    try:
        raw = json.loads(record_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = raw.get("downloads") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        return []
    return [entry for entry in entries if isinstance(entry, dict)
            and all(isinstance(entry.get(key), str) for key in ("cache", "model", "revision"))]


def _save_record(entries: list[dict]) -> None:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole to a temporary file and renamed, so a crash never leaves half a record.
    handle, temporary = tempfile.mkstemp(prefix=".atelier-downloads-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"version": 1, "downloads": entries}, out, indent=1)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def _record_lock() -> Iterator[None]:
    """Holds a lock file beside the record while it is read, changed and written, so that two
    backends (two Blender sessions, or one and ``python -m backend download``) sharing a record
    never drop each other's entries: ``flock`` on POSIX, ``msvcrt.locking`` on Windows (which
    gives up with an OSError after about 10 s). Closing the file releases the lock."""
    path = record_path().with_name(RECORD_NAME + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # Windows
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        else:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _recorded(entries: list[dict], cache: Path, model: str, revision: str) -> dict | None:
    return next((entry for entry in entries if entry["cache"] == str(cache)
                 and entry["model"].lower() == model.lower() and entry["revision"] == revision), None)


# --------------------------------------------------------------------------- listing


def cached_revisions(cache: Path | None = None) -> dict[str, list[dict]]:
    """``{model id in lower case: [{revision, refs, size_bytes, files}]}`` of the cache's models."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        scanned = scan_cache_dir(cache or cache_dir())
    except CacheNotFound:
        return {}
    found: dict[str, list[dict]] = {}
    for repo in scanned.repos:
        if repo.repo_type != "model":
            continue
        found[repo.repo_id.lower()] = [
            {"revision": revision.commit_hash, "refs": sorted(revision.refs),
             "size_bytes": revision.size_on_disk, "files": revision.nb_files}
            for revision in sorted(repo.revisions, key=lambda revision: revision.commit_hash)]
    return found


def list_models() -> list[dict]:
    """Every catalog model, then every other model Atelier downloaded that is still cached,
    each with its cached revisions (``atelier`` true for those Atelier downloaded)."""
    cache = cache_dir()
    cached = cached_revisions(cache)
    record = [entry for entry in load_record() if entry["cache"] == str(cache)]
    rows = [entry.to_dict() for entry in model_catalog.CATALOG]
    known = {row["id"].lower() for row in rows}
    for entry in record:
        if entry["model"].lower() not in known and entry["model"].lower() in cached:
            known.add(entry["model"].lower())
            licence = entry.get("licence") if isinstance(entry.get("licence"), str) else "unknown"
            rows.append({"id": entry["model"], "kind": "other", "licence": licence,
                         "commercial_use": model_catalog.commercial_use(licence), "download_gb": None,
                         "gpu_gib": None, "source": "the Hugging Face hub, downloaded by Atelier",
                         "purpose": ""})
    for row in rows:
        row["revisions"] = [
            {**revision, "atelier": _recorded(record, cache, row["id"], revision["revision"]) is not None}
            for revision in cached.get(row["id"].lower(), [])]
    return rows


# --------------------------------------------------------------------------- choosing files


def pickle_only_dirs(names) -> list[str]:
    """Folders of a repository (``""`` = its top) that hold pickle weights and no safetensors."""
    by_dir: dict[str, list[str]] = {}
    for name in names:
        by_dir.setdefault(posixpath.dirname(name), []).append(posixpath.basename(name))
    return sorted(folder for folder, files in by_dir.items()
                  if any(f.endswith(PICKLE_SUFFIXES) for f in files)
                  and not any(f.endswith(".safetensors") for f in files))


def chosen_files(names, skip=()) -> tuple[list[str], list[str]]:
    """``(files to download, files left out)`` of a repository's file names (see the module's
    docstring for the rules); ``skip`` adds glob patterns to leave out."""
    names = sorted(names)
    pipeline = "model_index.json" in names
    full_precision = {posixpath.dirname(name) for name in names
                      if name.endswith(".safetensors") and not _VARIANT.search(posixpath.basename(name))}
    wanted, left = [], []
    for name in names:
        base = posixpath.basename(name)
        keep = (any(fnmatch.fnmatch(base, pattern) for pattern in ALLOW_PATTERNS)
                and not any(fnmatch.fnmatch(name, pattern) for pattern in skip)
                # diffusers loads a pipeline from its component folders, never from top-level checkpoints
                and not (pipeline and "/" not in name and base.endswith(".safetensors"))
                and not (_VARIANT.search(base) and posixpath.dirname(name) in full_precision))
        (wanted if keep else left).append(name)
    return wanted, left


# --------------------------------------------------------------------------- downloading


class _ByteProgress:
    """Counts the bytes of a download across files, reports them and stops on a cancel. Its
    ``bar`` class stands in for tqdm inside huggingface_hub, whose download loop calls
    ``update`` after every chunk."""

    def __init__(self, total: int, report: Callable[[int, int, str], None],
                 cancel: threading.Event) -> None:
        self.total = total
        self.done = 0  # bytes of the files finished so far
        self.in_file = 0
        self.file_size = 0
        self.stage = ""
        self._report = report
        self._cancel = cancel
        self._reported = -1

    def start(self, name: str, size: int) -> None:
        self.check()
        self.stage, self.file_size, self.in_file = f"downloading {name}", size, 0
        self.emit(force=True)

    def finish(self) -> None:
        self.done += self.file_size
        self.in_file = self.file_size = 0
        self.emit(force=True)

    def add(self, count: float | None) -> None:
        self.in_file = max(0, min(self.file_size, self.in_file + int(count or 0)))
        self.check()
        self.emit()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def emit(self, force: bool = False) -> None:
        step = min(self.total, self.done + self.in_file)
        if force or step - self._reported >= max(1, self.total // _PROGRESS_STEPS):
            self._reported = step
            self._report(step, self.total, self.stage)

    @property
    def bar(self) -> type:
        progress = self

        class Bar:
            """What huggingface_hub calls on a progress bar (tqdm's interface, silent)."""

            total = None

            def __init__(self, *args, **kwargs) -> None:
                self.n = 0

            def __enter__(self):
                return self

            def __exit__(self, *exc) -> bool:
                return False

            def update(self, count: float | None = 1) -> None:
                progress.add(count)

            def update_transfer(self, count: float | None = 1) -> None:
                pass  # network bytes; the bytes written are what ``update`` counts

            def close(self) -> None:
                pass

            def refresh(self, *args, **kwargs) -> None:
                pass

            def set_postfix_str(self, *args, **kwargs) -> None:
                pass

            set_transfer_postfix_str = set_description = set_description_str = set_postfix_str

        return Bar


class _Footprint:
    """The exact paths one download may create in the cache, listed from the repository's file
    metadata before it starts (the layout ``hf_hub_download`` writes, with Xet off: see
    ``backend/__main__.py``): per file its blob ``blobs/<etag>`` (the LFS sha256 or the git blob
    id), the partial blob beside it, the snapshot link and the folders leading to it, the lock
    ``.locks/models--X/<etag>.lock`` and the ``.no_exist`` marker of a file that vanished; the
    ref Atelier writes; the cache's ``CACHEDIR.TAG``; and the folders above them. After a failure
    only those that did not exist before are removed (deepest first; a folder only when empty),
    so whatever another process writes into the same folders meanwhile stays."""

    def __init__(self, cache: Path, model: str, commit: str, etags: dict[str, str], ref: str) -> None:
        repo = cache / ("models--" + model.replace("/", "--"))
        locks = cache / ".locks" / repo.name
        snapshot = repo / "snapshots" / commit
        paths = {*_with_parents(cache), cache / "CACHEDIR.TAG", *_with_parents(locks, cache)}
        if ref:
            written = repo / "refs" / ref
            paths.update({*_with_parents(written, cache), written.with_name(f".{written.name}.atelier")})
        self._partials = []
        for name, etag in etags.items():
            blob = repo / "blobs" / etag
            paths.update({blob, blob.with_name(etag + ".incomplete"), locks / f"{etag}.lock",
                          *_with_parents(blob, cache), *_with_parents(snapshot / name, cache),
                          *_with_parents(repo / ".no_exist" / commit / name, cache)})
            # huggingface_hub writes a blob to ``<etag>.<8 random hex>.incomplete`` under the
            # blob's lock, so a partial blob of this name appearing now is this download's.
            self._partials.append(str(repo / "blobs" / etag) + ".????????.incomplete")
        self._paths = paths
        self.before = {path for path in paths if os.path.lexists(path)}
        self._partials_before = {found for pattern in self._partials for found in glob.glob(pattern)}

    def is_new(self, path: Path) -> bool:
        return path in self._paths and path not in self.before

    def remove_new(self) -> None:
        new = {str(path) for path in self._paths - self.before}
        new.update({found for pattern in self._partials for found in glob.glob(pattern)}
                   - self._partials_before)
        for path in sorted(new, key=lambda p: p.count(os.sep), reverse=True):
            try:
                if os.path.islink(path) or not os.path.isdir(path):
                    os.unlink(path)
                else:
                    os.rmdir(path)
            except OSError:
                pass  # gone already, or a folder something else filled meanwhile: it stays


def _with_parents(path: Path, top: Path | None = None) -> list[Path]:
    """``path`` and its parent folders up to ``top`` (excluded), or up to the file system's root."""
    chain = [path]
    while chain[-1].parent != chain[-1] and chain[-1].parent != top:
        chain.append(chain[-1].parent)
    return chain


def download(model: str, revision: str, accept_licence: bool,
             report: Callable[[int, int, str], None], cancel: threading.Event) -> dict:
    """Download ``model`` at ``revision`` ("" = the default branch) into the cache (see the
    module's docstring); returns the ``download`` result's data."""
    model = check_model_id(model)
    revision = revision.strip()
    if revision and (not _REVISION.match(revision) or ".." in revision):
        raise TaskError("bad_request", f"{revision[:60]!r} is not a revision name",
                        hint="give a branch, a tag or a 40-character commit hash, or leave it empty")
    if not network_allowed(True):
        raise TaskError("bad_request", "downloads are off: HF_HUB_OFFLINE is set for this backend",
                        hint="allow online access in Blender's preferences, or unset HF_HUB_OFFLINE")
    from huggingface_hub import HfApi, get_token

    token = get_token()
    info = _with_hub_errors(model, revision, lambda: HfApi().model_info(
        model, revision=revision or None, files_metadata=True, token=token or False))
    commit = info.sha or ""
    if not _COMMIT.match(commit):
        raise TaskError("model_invalid", f"the hub answered no commit for {model!r}",
                        hint="check HF_ENDPOINT: it must point at a Hugging Face hub")
    entry = model_catalog.find(model)
    licence = entry.licence if entry else _hub_licence(info)
    allowed = entry.commercial_use if entry else model_catalog.commercial_use(licence)
    if not allowed and not accept_licence:
        note = model_catalog.licence_note(licence)
        raise TaskError("bad_request", f"{model} is under the {licence} ({note}); its licence must be "
                        "accepted before it is downloaded",
                        hint="read the licence on the model's page, then tick 'accept licence' "
                             "(--accept-licence on the command line)")
    if info.gated and not token:
        raise TaskError("bad_request", f"{model} is gated on the Hugging Face hub: only accounts that "
                        "accepted its terms may download it, and no token is set",
                        hint=f"accept its terms on https://huggingface.co/{model}, then {LOGIN_HINT}")
    sizes = {sibling.rfilename: _size(sibling) for sibling in info.siblings or ()}
    pickled = pickle_only_dirs(sizes)
    if pickled:
        folders = ", ".join(f"{folder}/" if folder else "its top folder" for folder in pickled)
        raise TaskError("model_invalid", f"{model} holds weights only as pickle files in {folders}; "
                        "loading a pickle can run arbitrary code, so nothing was downloaded",
                        hint="use a repository with .safetensors weights, or convert these and use "
                             "the local folder")
    known = texture_models.find(model)
    wanted, left_out = chosen_files(sizes, known.skip if known and known.id.lower() == model.lower() else ())
    if not any(posixpath.basename(name) in ("model_index.json", "config.json") for name in wanted):
        raise TaskError("model_invalid", f"{model} has no model_index.json or config.json: it is not "
                        "a diffusers or transformers model", hint="check the id")
    wanted.sort(key=lambda name: (sizes[name], name))  # configs first: a broken repo fails early
    etags = {sibling.rfilename: _etag(sibling) for sibling in info.siblings or ()
             if sibling.rfilename in wanted}
    if not all(etags.values()):
        raise TaskError("model_invalid", f"the hub listed files of {model} without their blob ids",
                        hint="check HF_ENDPOINT: it must point at a Hugging Face hub")
    cache = cache_dir()
    ref = "" if revision == commit else revision or "main"
    footprint = _Footprint(cache, model, commit, etags, ref)
    snapshot = cache / ("models--" + model.replace("/", "--")) / "snapshots" / commit
    progress = _ByteProgress(sum(sizes[name] for name in wanted), report, cancel)
    try:
        _fetch(model, commit, wanted, sizes, token, progress, cache)
        if ref:
            _write_ref(snapshot.parent.parent, ref, commit)
    except BaseException as exc:
        footprint.remove_new()
        failure = _failure(exc, model, revision, progress, cache, sum(sizes[name] for name in wanted))
        if failure is None:
            raise
        raise failure from None
    atelier = footprint.is_new(snapshot)
    if atelier:
        with _record_lock():
            entries = load_record()
            entries.append({"cache": str(cache), "model": model, "revision": commit, "licence": licence,
                            "commercial_use": allowed,
                            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            _save_record(entries)
    return {"model": model, "revision": commit, "files": len(wanted), "bytes": progress.total,
            "skipped": len(left_out), "licence": licence, "commercial_use": allowed, "atelier": atelier}


def _fetch(model, commit, names, sizes, token, progress: _ByteProgress, cache: Path) -> None:
    from huggingface_hub import hf_hub_download

    for name in names:
        progress.start(name, sizes[name])
        hf_hub_download(model, name, revision=commit, cache_dir=cache, token=token or False,
                        tqdm_class=progress.bar)
        progress.finish()
    progress.check()


def _write_ref(repo_folder: Path, revision: str, commit: str) -> None:
    ref = repo_folder / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    temporary = ref.with_name(f".{ref.name}.atelier")
    temporary.write_text(commit, encoding="utf-8")
    os.replace(temporary, ref)


def _size(sibling) -> int:
    size = sibling.lfs.size if sibling.lfs is not None else sibling.size
    return size if isinstance(size, int) and size >= 0 else 0


def _etag(sibling) -> str:
    """The name ``hf_hub_download`` gives the file's blob: its ETag, which the hub sets to the
    LFS sha256 for LFS files and to the git blob id for the rest."""
    etag = sibling.lfs.sha256 if sibling.lfs is not None else sibling.blob_id
    return etag if isinstance(etag, str) and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", etag) else ""


def _hub_licence(info) -> str:
    card = info.card_data.to_dict() if info.card_data is not None else {}
    licence = card.get("license_name") or card.get("license")
    if not isinstance(licence, str):
        tags = [tag.split(":", 1)[1] for tag in info.tags or () if tag.startswith("license:")]
        licence = tags[0] if tags else "unknown"
    return licence[:100]


def _with_hub_errors(model: str, revision: str, call):
    """``call()``, with the hub's refusals turned into ``TaskError``s that say what to do."""
    try:
        return call()
    except Exception as exc:
        failure = _failure(exc, model, revision, None, None, 0)
        if failure is None:
            raise
        raise failure from None


def _failure(exc: BaseException, model: str, revision: str, progress: _ByteProgress | None,
             cache: Path | None, total: int) -> TaskError | None:
    """The ``TaskError`` that reports ``exc``, or None for a bug (it stays as it is)."""
    from huggingface_hub import errors

    if isinstance(exc, TaskError):
        return exc
    if isinstance(exc, KeyboardInterrupt):
        return Cancelled()
    fetching = progress.stage.removeprefix("downloading ") if progress is not None else ""
    where = f" while fetching {fetching}" if fetching else ""
    entry = model_catalog.find(model)
    kind = entry.kind if entry is not None and entry.kind == "text" else "texture"
    if isinstance(exc, errors.GatedRepoError):
        return TaskError("bad_request", f"{model} is gated on the Hugging Face hub and the hub refused "
                         "this account's token", hint=f"accept its terms on https://huggingface.co/{model} "
                         f"with the account whose token is used; {LOGIN_HINT}")
    if isinstance(exc, errors.RevisionNotFoundError):
        return TaskError("model_missing", f"{model} has no revision {revision!r} on the hub",
                         hint="leave the revision empty for the default branch, or check its name")
    if isinstance(exc, errors.RepositoryNotFoundError):
        return not_found_on_hub(model, kind)
    if isinstance(exc, errors.RemoteEntryNotFoundError):
        return TaskError("model_missing", f"a file of {model} vanished from the hub{where}",
                         hint="download again: the repository changed while it was being fetched")
    if isinstance(exc, errors.HfHubHTTPError) and exc.response is not None and \
            exc.response.status_code in (401, 403):
        return TaskError("bad_request", f"the Hugging Face hub refused access to {model}{where} "
                         f"(HTTP {exc.response.status_code})", hint=f"check the token: {LOGIN_HINT}")
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return TaskError("model_missing", f"the file system refuses files this large (e.g. FAT32's 4 GB "
                         f"limit){where}: {model} cannot be put in the Hugging Face cache {cache} "
                         f"({first_line(exc)}); nothing was kept",
                         hint="point HF_HUB_CACHE (or HF_HOME) at a disk formatted with NTFS, exFAT, "
                              "APFS or ext4, then download again")
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        room = f"about {total / 1e9:.1f} GB" if total >= 1e8 else f"about {total / 1e6:.1f} MB"
        return TaskError("model_missing", f"the disk is full{where}: {model} needs {room} in the "
                         f"Hugging Face cache {cache} ({first_line(exc)}); nothing was kept",
                         hint="free space there, or point HF_HUB_CACHE (or HF_HOME) at a disk with room, "
                              "then download again")
    if isinstance(exc, (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled, ConnectionError,
                        TimeoutError, errors.HfHubHTTPError)) or type(exc).__module__.startswith("httpx") \
            or (isinstance(exc, OSError) and "Consistency check failed" in str(exc)):
        if progress is None:
            return TaskError("model_missing", f"the Hugging Face hub could not be reached for {model}: "
                             f"{first_line(exc)}", hint="check the network connection (and HF_ENDPOINT, "
                             "if set) and download again")
        return TaskError("model_missing", f"the download of {model} was cut off{where}: {first_line(exc)}; "
                         "nothing was kept", hint="check the network connection and download again")
    return None


# --------------------------------------------------------------------------- deleting


def delete(model: str, revision: str) -> dict:
    """Delete ``revision`` of ``model`` from the cache when Atelier's record says Atelier
    downloaded it; returns the ``delete_model`` result's data."""
    model = check_model_id(model)
    revision = revision.strip()
    if not _COMMIT.match(revision):
        raise TaskError("bad_request", f"{revision[:60]!r} is not a commit hash",
                        hint="give the 40-character revision that `models` lists")
    cache = cache_dir()
    with _record_lock():
        entries = load_record()
        entry = _recorded(entries, cache, model, revision)
        if entry is None:
            raise TaskError("bad_request", f"Atelier did not download revision {revision[:12]} of {model}, "
                            "so it does not delete it",
                            hint="delete it with `hf cache delete` if it is no longer needed")
        entries.remove(entry)
        only_this_repo = _repo_scan(cache, entry["model"], revision)
        if only_this_repo is None:
            _save_record(entries)
            raise TaskError("model_missing", f"revision {revision[:12]} of {model} is no longer in the "
                            f"cache {cache}; Atelier's record of it was removed",
                            hint="refresh the model list")
        strategy = only_this_repo.delete_revisions(revision)
        strategy.execute()
        _save_record(entries)
    return {"model": model, "revision": revision, "freed_bytes": int(strategy.expected_freed_size)}


def _repo_scan(cache: Path, model: str, revision: str):
    """The cache scan narrowed to the one folder ``models--<owner>--<name>`` that the download of
    ``model`` wrote (as recorded, case included), when it holds ``revision``; else None.
    huggingface_hub's ``delete_revisions`` looks for a commit in every repository it is given,
    and the same commit can be cached under another folder (another case, a fork)."""
    from dataclasses import replace

    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        scanned = scan_cache_dir(cache)
    except CacheNotFound:
        return None
    folder = "models--" + model.replace("/", "--")
    repo = next((repo for repo in scanned.repos if repo.repo_type == "model" and repo.repo_path.name == folder
                 and any(rev.commit_hash == revision for rev in repo.revisions)), None)
    if repo is None:
        return None
    return replace(scanned, repos=frozenset([repo]), size_on_disk=repo.size_on_disk)
