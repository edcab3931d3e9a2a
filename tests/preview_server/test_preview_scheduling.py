"""Live previews through the real ``serve`` process: the newest preview wins, and a preview never
holds up another job by more than its own running step. Assertions are on the order of the
events the backend writes, never on time."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

FINAL = ("result", "error")
LONG = {"steps": 150, "width": 128, "height": 128}  # still running when the next line arrives


def until_ended(server, ids: list[str]) -> list[dict]:
    """Every event of the jobs ``ids`` in the order the backend wrote them, until each has ended;
    events of other requests are kept for later."""
    wanted = set(ids)
    events = [e for e in server.stash if e.get("id") in wanted]
    server.stash = [e for e in server.stash if e.get("id") not in wanted]
    running = wanted - {e["id"] for e in events if e["type"] in FINAL}
    while running:
        event = server.next_event()
        assert event is not None, f"backend exited; log:\n{server.log()}"
        if event.get("id") in wanted:
            events.append(event)
            if event["type"] in FINAL:
                running.discard(event["id"])
        else:
            server.stash.append(event)
    return events


def nothing_more_for(server, ids: list[str]) -> None:
    """No event names ``ids`` any more: a ping's pong comes after anything already written."""
    server.send({"type": "ping", "id": "after-previews"})
    while (event := server.next_event()) != {"type": "pong", "id": "after-previews"}:
        assert event is not None and event.get("id") not in ids, event
        server.stash.append(event)


def finals_by_id(events: list[dict]) -> dict[str, dict]:
    """The final event of each job, checking that no job has two."""
    finals: dict[str, dict] = {}
    for event in events:
        if event["type"] in FINAL:
            assert event["id"] not in finals, f"a second final event: {event}"
            finals[event["id"]] = event
    return finals


def preview_pixels(result: dict) -> np.ndarray:
    """The preview result's one raw file as a height x width x 4 array."""
    (file,) = result["files"]
    assert (file["role"], file["format"]) == ("preview", "rgba8"), file
    width, height = result["data"]["width"], result["data"]["height"]
    raw = Path(file["path"]).read_bytes()
    assert len(raw) == width * height * 4
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 4)


def direct_rgb(model: Path, job: dict) -> np.ndarray:
    """The same image made with diffusers alone."""
    import torch
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(str(model), dtype=torch.float32, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    image = pipe(prompt=job["prompt"], width=job["width"], height=job["height"],
                 num_inference_steps=job["steps"], guidance_scale=job["guidance"],
                 generator=torch.Generator("cpu").manual_seed(job["seed"])).images[0]
    return np.asarray(image.convert("RGB"))


def test_the_last_of_fifty_previews_in_one_write_wins(backend, texture_request, tiny_sd):
    previews = [texture_request(prompt=f"mossy stone wall, variant {n}", preview=True, guidance=4.0)
                for n in range(50)]
    ids = [job["id"] for job in previews]
    backend.send("\n".join(json.dumps(job) for job in previews))  # one write holding 50 lines

    events = until_ended(backend, ids)
    finals = finals_by_id(events)
    nothing_more_for(backend, ids)
    assert sorted(finals) == sorted(ids)
    assert all(next(e for e in events if e["id"] == i)["type"] == "accepted" for i in ids)
    made = [i for i in ids if finals[i]["type"] == "result"]
    assert len(made) <= 3 and made[-1] == ids[-1], made
    cancelled = [i for i in ids if finals[i].get("code") == "cancelled"]
    assert len(cancelled) >= 47 and sorted(cancelled + made) == sorted(ids)

    pixels = preview_pixels(finals[ids[-1]])
    assert pixels.shape == (64, 64, 4) and (pixels[..., 3] == 255).all()
    assert np.array_equal(pixels[..., :3], direct_rgb(tiny_sd, previews[-1]))


def test_a_job_arriving_during_a_preview_waits_one_step_at_most(backend, texture_request):
    preview = texture_request(preview=True, **LONG)
    job = texture_request()
    backend.send(preview)
    backend.wait_for_progress(preview["id"])
    backend.send(job)

    events = until_ended(backend, [preview["id"], job["id"]])
    order = [(e["id"], e["type"]) for e in events]
    accepted = order.index((job["id"], "accepted"))
    preview_end = order.index((preview["id"], "error"))
    assert events[preview_end]["code"] == "cancelled"
    assert events[accepted]["position"] == 1  # the preview was still on the device
    assert order[accepted:preview_end].count((preview["id"], "progress")) <= 1
    assert preview_end < order.index((job["id"], "progress"))
    assert events[-1]["id"] == job["id"] and events[-1]["type"] == "result", events[-1]


def test_a_queued_preview_stays_behind_queued_jobs(backend, texture_request):
    running = texture_request(**LONG)
    older_preview, job = texture_request(preview=True), texture_request()
    preview = texture_request(preview=True)
    backend.send(running)
    backend.wait_for_progress(running["id"])
    for message in (older_preview, job, preview):
        backend.send(message)
    backend.send({"type": "cancel", "id": "stop-running", "job": running["id"]})

    events = until_ended(backend, [running["id"], older_preview["id"], job["id"], preview["id"]])
    finals = finals_by_id(events)
    positions = {e["id"]: e["position"] for e in events if e["type"] == "accepted"}
    # The job went ahead of the queued preview; the newer preview went behind the job.
    assert (positions[older_preview["id"]], positions[job["id"]], positions[preview["id"]]) == (1, 1, 2)
    assert finals[older_preview["id"]]["code"] == "cancelled"
    assert "superseded" in finals[older_preview["id"]]["message"]
    assert [e["type"] for e in events if e["id"] == older_preview["id"]] == ["accepted", "error"]
    order = [(e["id"], e["type"]) for e in events]
    assert order.index((job["id"], "result")) < order.index((preview["id"], "progress"))
    assert finals[preview["id"]]["type"] == "result", finals[preview["id"]]


def test_a_preview_can_still_be_cancelled(backend, texture_request):
    running = texture_request(preview=True, **LONG)
    backend.send(running)
    backend.wait_for_progress(running["id"])
    backend.send({"type": "cancel", "id": "cancel-preview", "job": running["id"]})
    assert backend.events_for(running["id"])[-1]["code"] == "cancelled"

    # Cancelled twice, by a newer preview and by the client: still one final event, no error.
    superseded, newer = texture_request(preview=True, **LONG), texture_request(preview=True)
    backend.send(superseded)
    backend.wait_for_progress(superseded["id"])
    backend.send(newer)
    backend.send({"type": "cancel", "id": "cancel-superseded", "job": superseded["id"]})
    finals = finals_by_id(until_ended(backend, [superseded["id"], newer["id"]]))
    assert finals[superseded["id"]]["code"] == "cancelled"
    assert finals[newer["id"]]["type"] == "result", finals[newer["id"]]
    cancels = ("cancel-preview", "cancel-superseded")
    nothing_more_for(backend, [running["id"], superseded["id"], *cancels])
    assert not [e for e in backend.stash if e.get("id") in cancels]  # answers that came while waiting


def test_shutdown_ends_every_preview_once(start_backend, texture_request):
    server = start_backend()
    assert server.next_event()["type"] == "hello"
    running, queued = texture_request(preview=True, **LONG), texture_request(preview=True)
    server.send(running)
    server.wait_for_progress(running["id"])
    server.send(queued)  # cancels the running preview at its next step
    server.send({"type": "shutdown", "id": "bye"})

    events = list(server.stash)
    while (event := server.next_event()) is not None:
        events.append(event)
    finals = finals_by_id([e for e in events if e.get("id") in (running["id"], queued["id"])])
    assert {finals[running["id"]]["code"], finals[queued["id"]]["code"]} == {"cancelled"}
    assert server.close() == 0


def test_a_random_mix_of_previews_jobs_and_cancels_ends_each_job_once(backend, texture_request):
    rng = random.Random(14)
    sent: list[dict] = []
    for _ in range(120):
        roll = rng.random()
        if roll < 0.15 and sent:
            sent.append({"type": "cancel", "id": f"mix-cancel-{len(sent)}", "job": rng.choice(sent)["id"]})
        else:
            sent.append(texture_request(preview=roll < 0.7, steps=rng.choice([1, 2, 3]),
                                        seed=rng.randrange(9)))
    writes = sorted(rng.sample(range(1, len(sent)), 9))  # ten writes of a few lines each
    for start, end in zip([0, *writes], [*writes, len(sent)], strict=True):
        backend.send("\n".join(json.dumps(message) for message in sent[start:end]))

    jobs = [m for m in sent if m["type"] == "texture"]
    cancels = [m for m in sent if m["type"] == "cancel"]
    events = until_ended(backend, [m["id"] for m in jobs])
    nothing_more_for(backend, [m["id"] for m in sent])
    finals = finals_by_id(events)
    cancelled_by_client = {m["job"] for m in cancels}
    for job in jobs:
        final = finals[job["id"]]
        assert final["type"] == "result" or final["code"] == "cancelled", final
        if not job["preview"] and final["type"] == "error":
            assert job["id"] in cancelled_by_client, f"a preview held up {final}"
    last_preview = [m for m in jobs if m["preview"]][-1]
    assert finals[last_preview["id"]]["type"] == "result" or last_preview["id"] in cancelled_by_client
    # Jobs other than previews keep their arrival order.
    plain = [m["id"] for m in jobs if not m["preview"] and finals[m["id"]]["type"] == "result"]
    assert [e["id"] for e in events if e["type"] == "result" and e["id"] in plain] == plain
    # The backend's answers to the cancels themselves (a job already over) are refusals only.
    cancel_ids = {m["id"] for m in cancels}
    assert all(e["code"] == "bad_request" for e in backend.stash if e.get("id") in cancel_ids)
    backend.stash = [e for e in backend.stash if e.get("id") not in cancel_ids]
    superseded = [m for m in jobs if m["preview"] and m["id"] not in cancelled_by_client
                  and finals[m["id"]]["type"] == "error"]
    assert len(superseded) > 10  # the mix did make previews replace each other
