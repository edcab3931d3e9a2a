"""Jobs over HTTP on the Ray Serve server: the stdio protocol's events, result files fetched by
role, uploads that replace the client's paths, and requests the server refuses (400, 413)."""

import http.client
import io
import json
from urllib.parse import urlsplit

import pytest
from PIL import Image
from ray_server import call, run_job, stream_events, submit

from core import protocol

MIB = 2**20


def png_bytes(size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (180, 90, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_texture_job_end_to_end(ray_backend, texture_request, tmp_path):
    """Events carry the request's id, the result names its file by name only, the file comes by
    role, the events replay, DELETE forgets the job, and the client's output_dir is never used."""
    client_folder = tmp_path / "client-output"
    request = texture_request(output_dir=str(client_folder))
    job, events = run_job(ray_backend, request)
    assert [e["type"] for e in events][0] == "accepted" and events[-1]["type"] == "result", events
    assert {e["id"] for e in events} == {request["id"]}
    assert any(e["type"] == "progress" for e in events)
    assert events[-1]["files"] == [{"role": "base_color", "path": "base_color.png", "format": "png"}]
    assert not client_folder.exists()  # the server wrote into its own folder
    picture = call(ray_backend, "GET", f"/v1/jobs/{job}/files/base_color")
    assert picture.status_code == 200 and picture.headers["Content-Type"] == "application/octet-stream"
    assert int(picture.headers["Content-Length"]) == len(picture.content)
    assert Image.open(io.BytesIO(picture.content)).size == (64, 64)
    assert call(ray_backend, "GET", f"/v1/jobs/{job}/files/normal").status_code == 404
    assert list(stream_events(ray_backend, job)) == events  # read again: the same events
    assert call(ray_backend, "DELETE", f"/v1/jobs/{job}").status_code == 204
    for path in (f"/v1/jobs/{job}/files/base_color", f"/v1/jobs/{job}/events"):
        assert call(ray_backend, "GET", path).status_code == 404


def test_an_uploaded_image_replaces_the_clients_path(ray_backend):
    """The request names a file on the client's machine; the server runs on the uploaded copy."""
    request = {"type": "maps", "id": "maps-upload", "image": "/only/on/the/client/wall.png",
               "maps": ["normal", "height"], "model": "classic", "output_dir": "/tmp"}
    job, events = run_job(ray_backend, request, {"image": png_bytes()})
    assert events[-1]["type"] == "result", events
    assert sorted(f["role"] for f in events[-1]["files"]) == ["height", "normal"]
    for role in ("normal", "height"):
        answer = call(ray_backend, "GET", f"/v1/jobs/{job}/files/{role}")
        assert Image.open(io.BytesIO(answer.content)).size == (64, 64)


MAPS = {"type": "maps", "image": "", "model": "classic"}
REFUSED = [
    ({**MAPS, "image": "/client/wall.png"}, {}, "no such part"),
    (MAPS, {"image": b"x"}, "the request's field is empty"),
    ({"model": "/etc"}, {}, "outside the server's model folders"),
    ({"model": "../models"}, {}, "outside the server's model folders"),
    ({"model": "~/models"}, {}, "outside the server's model folders"),
    ({"allow_pickle": True}, {}, "never loads pickle weights"),
    ({"width": "wide"}, {}, "field 'width' must be an integer"),
    ({}, {"extra": b"x"}, "unknown part(s) extra"),
]


@pytest.mark.parametrize(("fields", "files", "expected"), REFUSED)
def test_requests_the_server_refuses(ray_backend, texture_request, fields, files, expected):
    request = texture_request(**fields)
    if request["type"] == "maps":  # a texture request's fields, less those a maps request lacks
        request = {name: value for name, value in request.items() if name in {"id", "output_dir", *MAPS}}
    answer = submit(ray_backend, request, files)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["type"] == "error" and body["code"] == "bad_request" and body["hint"], body
    assert body["id"] == request["id"] and expected in body["message"], body


@pytest.mark.parametrize("kind", ["ping", "cancel", "unload", "shutdown"])
def test_control_requests_are_not_jobs(ray_backend, kind):
    request = {"type": kind, "id": "control", **({"job": "x"} if kind == "cancel" else {})}
    answer = submit(ray_backend, request)
    assert answer.status_code == 400 and "is not a job" in answer.json()["message"], answer.text


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b'{"type": "texture", "id": "a"}', "application/json", "not multipart/form-data"),
    (b"--b\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\nnot json\r\n--b--\r\n",
     "multipart/form-data; boundary=b", "not a JSON line"),
    (b"--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nx\r\n--b--\r\n",
     "multipart/form-data; boundary=b", "no 'request' part"),
])
def test_uploads_that_are_not_the_form(ray_backend, body, content_type, expected):
    answer = call(ray_backend, "POST", "/v1/jobs", data=body, headers={"Content-Type": content_type})
    assert answer.status_code == 400 and expected in answer.json()["message"], answer.text


def test_a_request_part_over_one_protocol_line_is_413(ray_backend, texture_request):
    answer = submit(ray_backend, texture_request(prompt="x" * protocol.MAX_LINE_BYTES))
    assert answer.status_code == 413 and "'request'" in answer.json()["message"], answer.text


def test_a_file_part_over_64_mib_is_413(ray_backend):
    request = {"type": "maps", "id": "big", "image": "big.png", "model": "classic"}
    answer = submit(ray_backend, request, {"image": b"\0" * (64 * MIB + 1)})
    assert answer.status_code == 413 and "'image'" in answer.json()["message"], answer.text


def test_a_body_that_is_not_a_form_is_refused_before_it_is_read(ray_backend):
    """The Content-Type is checked first: a 150 MiB text body gets its 400 after 1 MiB."""
    address = urlsplit(ray_backend.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    connection.putrequest("POST", "/v1/jobs")
    for name, value in (("Authorization", f"Bearer {ray_backend.token}"), ("Content-Length", 150 * MIB),
                        ("Content-Type", "text/plain")):
        connection.putheader(name, str(value))
    connection.endheaders(b"x" * MIB)
    answer = connection.getresponse()
    assert answer.status == 400 and "not multipart/form-data" in json.loads(answer.read())["message"]
    connection.close()


def test_an_upload_declared_over_200_mib_is_413_before_it_is_sent(ray_backend):
    """Refused on its Content-Length: the server answers without reading the body."""
    address = urlsplit(ray_backend.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    connection.putrequest("POST", "/v1/jobs")
    for name, value in (("Authorization", f"Bearer {ray_backend.token}"), ("Content-Length", 200 * MIB + 1),
                        ("Content-Type", "multipart/form-data; boundary=b")):
        connection.putheader(name, str(value))
    connection.endheaders(b"--b\r\n")
    answer = connection.getresponse()
    assert answer.status == 413, answer.read()
    assert "the limit is" in json.loads(answer.read())["message"]
    connection.close()


def test_events_stream_while_the_job_runs_and_cancel_stops_it(ray_backend, texture_request):
    """Progress arrives before the job ends (it is cancelled after the first step it reports,
    long before its 150 steps could finish), and the stream ends with ``cancelled``."""
    answer = submit(ray_backend, texture_request(width=1024, height=1024, steps=150))
    job = answer.json()["job"]
    seen = []
    for event in stream_events(ray_backend, job):
        seen.append(event)
        if event["type"] == "progress" and len([e for e in seen if e["type"] == "progress"]) == 1:
            assert call(ray_backend, "POST", f"/v1/jobs/{job}/cancel").status_code == 202
    assert seen[-1]["type"] == "error" and seen[-1]["code"] == "cancelled", seen[-1]
    assert seen[-1]["id"] == answer.json()["id"]
    assert call(ray_backend, "GET", f"/v1/jobs/{job}/files/base_color").status_code == 404
    assert call(ray_backend, "POST", f"/v1/jobs/{job}/cancel").status_code == 202  # ended: no change
    assert list(stream_events(ray_backend, job)) == seen


def test_requests_without_an_output_folder_run(ray_backend, tiny_text_model):
    """Ideas and doctor have no output_dir field: the server gives them none."""
    _, events = run_job(ray_backend, {"type": "ideas", "id": "ideas-http", "prompt": "a reading nook",
                                      "count": 1, "model": str(tiny_text_model), "seed": 3})
    assert events[-1]["type"] == "result" and len(events[-1]["data"]["ideas"]) == 1, events[-1]
    _, events = run_job(ray_backend, {"type": "doctor", "id": "doctor-http", "device": "cpu"})
    assert events[-1]["type"] == "result" and "report" in events[-1]["data"], events[-1]


@pytest.mark.parametrize("kind", ["download", "delete_model"])
def test_model_management_is_not_offered(ray_backend, kind):
    answer = submit(ray_backend, {"type": kind, "id": "manage", "model": "org/model"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"] == "model management is done on the server"
    assert kind not in call(ray_backend, "GET", "/v1/hello").json()["capabilities"]


def test_errors_name_the_input_field_not_the_servers_path(ray_backend):
    request = {"type": "maps", "id": "maps-broken", "image": "/client/wall.png", "maps": ["normal"],
               "model": "classic"}
    _, events = run_job(ray_backend, request, {"image": b"this is not an image"})
    end = events[-1]
    assert end["type"] == "error" and end["code"] == "bad_request", end
    text = end["message"] + end["hint"]
    assert "image" in text and "input-image" not in text and "atelier-ray-serve" not in text, end
