"""Over HTTP no ``image`` event comes: the server turns a request's ``early_pixels`` off (result
files travel with the result, fetched by role), and the job ends as the same request without it."""

import io
import json

from PIL import Image
from ray_server import call, run_job

from backend.ray_serve import vetting


def test_the_server_turns_early_pixels_off():
    request = {"type": "texture", "id": "t", "prompt": "bricks", "early_pixels": True}
    assert vetting.job_request({"request": json.dumps(request).encode()}, []).early_pixels is False


def test_an_early_pixels_job_over_http_sends_only_its_result(ray_backend, texture_request):
    job, events = run_job(ray_backend, texture_request(early_pixels=True))
    assert [e["type"] for e in events if e["type"] != "progress"] == ["accepted", "result"], events
    assert events[-1]["files"] == [{"role": "base_color", "path": "base_color.png", "format": "png"}]
    picture = call(ray_backend, "GET", f"/v1/jobs/{job}/files/base_color")
    assert Image.open(io.BytesIO(picture.content)).format == "PNG"
    assert call(ray_backend, "DELETE", f"/v1/jobs/{job}").status_code == 204
