"""A serve process started with ATELIER_QUANTIZE=fp8 on a machine without an fp8 GPU: a texture
job fails with the fix (the variable, int8 or off), and the process serves the next jobs."""

from __future__ import annotations


def test_fp8_without_an_fp8_gpu_fails_clearly_and_the_backend_serves_on(start_backend, texture_request):
    server = start_backend(env={"ATELIER_QUANTIZE": "fp8", "ATELIER_DEVICE": "cpu"})
    assert server.next_event()["type"] == "hello"

    final = server.request(texture_request())
    assert final["type"] == "error" and final["code"] == "bad_request", final
    assert final["message"].startswith("ATELIER_QUANTIZE=fp8 needs an NVIDIA GPU with fp8 tensor cores")
    assert "this backend runs on cpu" in final["message"]
    assert "ATELIER_QUANTIZE=int8" in final["hint"] and " or off " in final["hint"]

    palette = server.request({"type": "palette", "id": "after-fp8", "source": "harmony",
                              "harmony": "complementary", "base_color": "#aa3300", "count": 4})
    assert palette["type"] == "result", palette
    again = server.request(texture_request())  # nothing half-quantised was kept for it
    assert (again["type"], again["code"], again["message"]) == ("error", "bad_request", final["message"])
    assert server.proc.poll() is None
