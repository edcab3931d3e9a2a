"""Fusing the attention projections takes no memory: the projections diffusers keeps become views
of the fused weights, which still compute the same values and still unfuse. Models that accelerate
offloads are left unfused (moving a view copies it), and the record says so."""

from __future__ import annotations

import pytest
import torch
from diffusers import AutoPipelineForText2Image

from backend import fast_path, setup_notes

FAST_UNCOMPILED = fast_path.Settings(True, None)


def weight_bytes(*models) -> int:
    """Bytes of the distinct storages behind ``models``' parameters (views of one count once)."""
    storages = {}
    for model in models:
        for param in model.parameters():
            storage = param.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


@pytest.mark.parametrize("model_fixture", ["tiny_sd", "tiny_sdxl"])
def test_fusing_keeps_the_weights_memory_and_the_projections_outputs(model_fixture, request):
    pipe = AutoPipelineForText2Image.from_pretrained(str(request.getfixturevalue(model_fixture)))
    attention = pipe.unet.down_blocks[1].attentions[0].transformer_blocks[0]
    self_attention, cross_attention = attention.attn1, attention.attn2
    sample = torch.randn(2, 5, self_attention.to_q.in_features)
    cross_sample = torch.randn(2, 7, cross_attention.to_k.in_features)
    with torch.no_grad():
        before = [self_attention.to_v(sample), cross_attention.to_k(cross_sample)]
    unfused_bytes = weight_bytes(pipe.unet, pipe.vae)

    fast_path.speed_up(pipe, "cpu", FAST_UNCOMPILED)

    assert weight_bytes(pipe.unet, pipe.vae) == unfused_bytes
    fused = self_attention.to_qkv.weight
    assert self_attention.to_v.weight.untyped_storage().data_ptr() == fused.untyped_storage().data_ptr()
    with torch.no_grad():
        assert torch.equal(self_attention.to_v(sample), before[0])
        assert torch.equal(cross_attention.to_k(cross_sample), before[1])
        pipe.unet.unfuse_qkv_projections()  # the views still serve the unfused processors
        assert torch.equal(self_attention.to_v(sample), before[0])


def test_offloaded_models_are_not_fused_and_the_record_says_why(tiny_sd):
    pipe = AutoPipelineForText2Image.from_pretrained(str(tiny_sd))
    # What memory_mode does on a CUDA GPU under ATELIER_CPU_OFFLOAD, with the CPU standing in.
    pipe.enable_model_cpu_offload(device="cpu")
    fast_path.speed_up(pipe, "cpu", FAST_UNCOMPILED)
    assert setup_notes.applied(pipe)["fused_qkv"] == "off (offloaded)"
    assert not any(hasattr(module, "to_qkv") for module in pipe.unet.modules())
