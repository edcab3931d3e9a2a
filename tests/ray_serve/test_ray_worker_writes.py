"""A worker replica whose disk is full or temporary folder unwritable ends the job with
``write_failed`` (as the stdio backend does for its files), naming the file by its field rather
than the server's path, with a hint for the server's disk; the job's folder is removed."""

import asyncio
import resource

from backend.ray_serve import worker
from core import protocol

WORKER = worker.Worker.func_or_class  # the class Serve deploys
FILE_SIZE_LIMIT = 64  # smaller than the upload: its copy fails part way, as on a full disk


def events(replica, request: dict, uploads: dict) -> list[protocol.Event]:
    async def collect():
        return [protocol.decode_event(item["line"]) async for item in replica.run(request, uploads)]

    return asyncio.run(collect())


def test_an_upload_that_cannot_be_copied_is_write_failed(tmp_path):
    replica = WORKER(str(tmp_path))
    request = {"type": "refine", "id": "r1", "prompt": "weathered red bricks", "image": ""}
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, hard))  # Python ignores SIGXFSZ
    try:
        answer = events(replica, request, {"image": b"\x89PNG" * 1000})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert len(answer) == 1 and isinstance(answer[0], protocol.ErrorEvent), answer
    error = answer[0]
    assert error.code == "write_failed" and error.message == "cannot write image: File too large", error
    assert error.hint == worker.SERVER_WRITE_HINT
    assert not any(path.is_file() for path in tmp_path.rglob("*")), "the job's files were left behind"


def test_a_result_that_cannot_be_written_on_the_replica_speaks_of_the_servers_disk():
    failed = protocol.ErrorEvent(
        id="r1", code="write_failed",
        message="cannot write /srv/tmp/job-1/out/r1/base_color.png: No space left on device",
        hint="free space on the drive that holds Atelier's jobs folder")
    line = worker._item(failed, {"/srv/tmp/job-1": "the job folder"})["line"]
    error = protocol.decode_event(line)
    assert error.message == "cannot write the job folder/out/r1/base_color.png: No space left on device"
    assert error.hint == worker.SERVER_WRITE_HINT and "administrator" in error.hint
