"""Served Marigold maps are exactly what direct diffusers calls give on the same picture.

Each map is rebuilt here from the pipeline's own prediction (a fresh ``from_pretrained``, the
same seed, the same steps, seamless off) through the documented conversions, then compared
pixel for pixel with the PNG the backend wrote: any change in how the backend calls the
pipelines (input scaling, resolution, seed, steps, the order of the targets) shows here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_pipelines import TINY_MARIGOLD_STEPS

from backend.maps_marigold import appearance_channels, height_from_depth
from backend.tasks.maps import map_image
from backend.tasks.texture import PNG_PROVENANCE_KEY
from core.normal_space import camera_to_tangent
from core.pbr_classic import ao_from_height, encode_normals

SEED = 1234


def direct(pipeline_class: str, folder, image: Image.Image, steps: int) -> np.ndarray:
    """The prediction of one Marigold pipeline, called as its documentation shows."""
    import diffusers

    pipe = getattr(diffusers, pipeline_class).from_pretrained(str(folder), dtype=torch.float32,
                                                             use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator("cpu").manual_seed(SEED)
    return pipe(image, num_inference_steps=steps, generator=generator).prediction


def png(role: str, values: np.ndarray) -> np.ndarray:
    """``values`` as the backend stores that map, read back as pixels."""
    return np.asarray(map_image(role, values))


def served_maps(final: dict) -> dict[str, np.ndarray]:
    return {file["role"]: np.asarray(Image.open(file["path"])) for file in final["files"]}


@pytest.fixture(scope="module")
def predictions(tiny_marigold, texture_png) -> dict[str, np.ndarray]:
    """Each pipeline's direct prediction of the test picture, by the backend's part names."""
    image = Image.open(texture_png)
    return {part: direct(pipeline_class, tiny_marigold / part, image, TINY_MARIGOLD_STEPS)
            for part, pipeline_class in (("normals", "MarigoldNormalsPipeline"),
                                         ("depth", "MarigoldDepthPipeline"),
                                         ("appearance", "MarigoldIntrinsicsPipeline"))}


@pytest.fixture(scope="module")
def expected(tiny_marigold, predictions) -> dict[str, np.ndarray]:
    normals, depth, appearance = (predictions[part] for part in ("normals", "depth", "appearance"))
    height = height_from_depth(depth[0, ..., 0])
    where = appearance_channels(json.loads((tiny_marigold / "appearance" / "model_index.json").read_text())
                                ["target_properties"])
    assert where == {"albedo": (0, None), "roughness": (1, 0), "metallic": (1, 1)}  # Marigold's order
    material = {role: appearance[index] if channel is None else appearance[index][..., channel]
                for role, (index, channel) in where.items()}
    values = {"normal": encode_normals(camera_to_tangent(normals[0])), "height": height,
              "ao": ao_from_height(height), **material}
    return {role: png(role, array) for role, array in values.items()}


def test_every_map_is_pixel_identical_to_direct_diffusers(backend, maps_request, expected):
    final = backend.request(maps_request(seed=SEED, steps=None))
    assert final["type"] == "result", final
    served = served_maps(final)
    assert list(served) == ["normal", "height", "roughness", "metallic", "ao", "albedo"]
    for role, pixels in served.items():
        assert pixels.shape == expected[role].shape, role
        difference = np.abs(pixels.astype(int) - expected[role]).max()
        assert np.array_equal(pixels, expected[role]), (role, difference)
    assert final["metadata"]["parameters"]["steps"] == TINY_MARIGOLD_STEPS  # the models' recommendation


def test_near_is_high_in_the_served_height(backend, maps_request, predictions):
    """The expected height above goes through ``height_from_depth`` itself, so its orientation
    is checked here against the raw depth (0 near, 1 far): where the depth model saw the surface
    nearer, the served height is higher."""
    final = backend.request(maps_request(seed=SEED, steps=None, maps=["height"]))
    assert final["type"] == "result", final
    height = served_maps(final)["height"].astype(np.float64)
    depth = predictions["depth"][0, ..., 0]
    correlation = np.corrcoef(height.ravel(), depth.ravel())[0, 1]
    assert correlation < -0.5, correlation


def test_maps_have_the_documented_formats(backend, maps_request):
    final = backend.request(maps_request(maps=["Albedo", "height", "normal", "ao"]))
    assert final["type"] == "result", final
    assert [file["role"] for file in final["files"]] == ["normal", "height", "ao", "albedo"]
    modes = {file["role"]: Image.open(file["path"]).mode for file in final["files"]}
    assert modes == {"normal": "RGB", "height": "I;16", "ao": "L", "albedo": "RGB"}
    height = np.asarray(Image.open(final["files"][1]["path"]))
    assert height.dtype == np.uint16 and height.max() > 255  # 16 bits used, not 8 bits stored wide
    assert abs(height.mean() / 65535 - 0.5) < 0.01  # 0.5 is the mean surface


def test_provenance_names_every_model_that_ran(backend, maps_request, tiny_marigold):
    final = backend.request(maps_request(maps=["normal", "roughness"], seed=None, steps=1))
    assert final["type"] == "result", final
    record = final["metadata"]
    assert record["engine"] == "marigold" and record["model"] == str(tiny_marigold)
    assert record["device"] == "cpu" and record["dtype"] == "float32"
    params = record["parameters"]
    assert params["maps"] == ["normal", "roughness"] and params["steps"] == 1
    assert 0 <= params["seed"] < 2**31 and final["data"] == params  # a random seed, reported
    pipelines = record["pipelines"]
    assert sorted(pipelines) == ["appearance", "normals"]  # depth was not needed, so not run
    assert pipelines["normals"]["pipeline"] == "MarigoldNormalsPipeline"
    assert pipelines["normals"]["source"] == str((tiny_marigold / "normals").resolve())
    assert pipelines["appearance"]["scheduler"] == "DDIMScheduler"
    for file in final["files"]:
        assert json.loads(Image.open(file["path"]).text[PNG_PROVENANCE_KEY]) == record


def test_the_same_seed_gives_the_same_maps(backend, maps_request):
    first = served_maps(backend.request(maps_request(seed=5, maps=["normal"])))
    again = served_maps(backend.request(maps_request(seed=5, maps=["normal"])))
    other = served_maps(backend.request(maps_request(seed=6, maps=["normal"])))
    assert np.array_equal(first["normal"], again["normal"])
    assert not np.array_equal(first["normal"], other["normal"])
