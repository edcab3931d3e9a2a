"""What the GPU benchmark scripts share: their command line, the device they run on, the
random-weight model folders they time (full size on a GPU, the tests' tiny ones on a CPU), and
how an output is compared with a reference (PSNR)."""

from __future__ import annotations

import argparse
import itertools
import json
import random
import string
import sys
from pathlib import Path

from bench.gpu_turbo import MODELS, build_full_size
from core.errors import first_line

ROOT = Path(__file__).resolve().parent.parent


def parser(description: str, check_flag: str) -> argparse.ArgumentParser:
    """The options every GPU benchmark takes; ``check_flag`` (e.g. ``--tiny``) runs it with tiny
    models on the CPU, a check that it runs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(check_flag, dest="tiny", action="store_true",
                        help="tiny models on the CPU (a check that it runs)")
    parser.add_argument("--json", help="file to write the numbers to")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=360.0, help="stop adding measurements after this")
    parser.add_argument("--models", default="sd-turbo,sdxl-turbo", help="comma-separated subset to run")
    return parser


def wanted_models(parser: argparse.ArgumentParser, args) -> list[tuple[str, str]]:
    """(name, kind) of the models ``--models`` names; a parser error when it names none."""
    wanted = [(name, kind) for name, kind in MODELS if name in args.models.split(",")]
    if not wanted:
        parser.error(f"--models names none of {', '.join(name for name, _ in MODELS)}")
    return wanted


def device_and_dtype(tiny: bool, check_flag: str):
    """("cuda", fp16) on a GPU, ("cpu", fp32) for the tiny check; exits when no GPU is there."""
    import torch

    if tiny:
        sys.path.insert(0, str(ROOT / "tests"))  # the tests' tiny model builders
        return "cpu", torch.float32
    if not torch.cuda.is_available():
        sys.exit(f"no CUDA GPU: run with {check_flag} on a CPU")
    return "cuda", torch.float16


# What the fast-path benchmark imports: (module, distribution). peft is added where it is installed.
PREFLIGHT_MODULES = (("torch", "torch"), ("diffusers", "diffusers"), ("transformers", "transformers"),
                     ("accelerate", "accelerate"), ("torchao", "torchao"), ("xgrammar", "xgrammar"))
# Those only some items need, with what their absence costs: the run goes on without them.
PREFLIGHT_OPTIONAL = {"torchao": "the int8 and fp8 rows fail",
                      "xgrammar": "the ideas item runs unconstrained"}


def preflight(need_cuda: bool, modules=PREFLIGHT_MODULES) -> str:
    """Import each of ``modules`` and, when ``need_cuda``, check that torch sees a CUDA GPU, before
    any model work: a run that would die at its first import or first job stops in seconds with
    every cause in one message. peft too where it is installed: with peft there, diffusers imports
    ``peft.tuners.tuners_utils`` in every UNet call, so a peft that does not load with this
    transformers fails every job. A module in ``PREFLIGHT_OPTIONAL`` that fails only costs the
    items that need it: the line says which, and the run goes on. Returns the versions as one
    line."""
    import importlib
    import importlib.metadata
    import importlib.util

    wanted = list(modules)
    if importlib.util.find_spec("peft") is not None:
        wanted.append(("peft.tuners.tuners_utils", "peft"))
    found, failed = [], []
    for module, distribution in wanted:
        try:
            importlib.import_module(module)
        except Exception as exc:  # missing, or built for another version of what it imports
            cause = f"{module}: {type(exc).__name__}: {first_line(exc)}"
            if module in PREFLIGHT_OPTIONAL:
                found.append(f"{distribution} NOT LOADED, {PREFLIGHT_OPTIONAL[module]} ({cause})")
            else:
                failed.append(cause)
            continue
        try:
            found.append(f"{distribution} {importlib.metadata.version(distribution)}")
        except importlib.metadata.PackageNotFoundError:  # importable from a folder without metadata
            found.append(f"{distribution} (no version recorded)")
    if need_cuda and not failed:
        import torch

        if not torch.cuda.is_available():
            failed.append(f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA GPU: run on "
                          "a GPU machine, or with --tiny on a CPU")
        else:
            found[0] += f" on {torch.cuda.get_device_name(0)}"
    if failed:
        sys.exit("preflight failed, nothing measured:\n  " + "\n  ".join(failed) + "\n"
                 "bench/gpu_run.sh installs what the machine lacks from the wheels in .cache/gpu-wheels "
                 "(made by bench/gpu_prepare.sh on the CPU machine; carry that folder along); a package "
                 "the machine has that fails to import needs a version that matches the others")
    return "preflight ok: " + ", ".join(found)


def build_pipeline(kind: str, folder: Path, tiny: bool, device: str, dtype) -> Path:
    """A random-weight pipeline of ``kind`` ('sd' or 'sdxl') in ``folder``: full size from the
    published config, or the tests' tiny one."""
    if tiny:
        from tiny_pipelines import build_tiny_sdxl

        from backend.doctor_models import build_tiny_sd

        (build_tiny_sd if kind == "sd" else build_tiny_sdxl)(folder)
    else:
        build_full_size(kind, folder, device, dtype)
    return folder


def results_header(device: str, dtype, size: int, steps: int, args) -> dict:
    """The fields every benchmark's JSON begins with: where and how it was measured."""
    import diffusers
    import torch

    return {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
            "dtype": str(dtype).removeprefix("torch."), "size": size, "steps": steps,
            "torch": torch.__version__, "diffusers": diffusers.__version__, "warmup": args.warmup,
            "repeats": args.repeats, "models": {}}


# PSNR reported for two pixel-identical images (their true PSNR is infinite, which JSON cannot hold).
PSNR_IDENTICAL = 100.0
TEXT_MODEL_1_5B = dict(  # Qwen2-1.5B / Qwen2.5-1.5B, the default text model's architecture
    vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
    num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768,
    tie_word_embeddings=True)
# Qwen2's tokenizer: 151643 byte-level BPE tokens (the LM head's 151936 rows include spare ones).
TEXT_MODEL_TOKENS = 151643


def psnr_db(image, reference) -> float:
    """Peak signal-to-noise ratio of two 8-bit images of one shape, in dB (``PSNR_IDENTICAL``
    when they are pixel-identical): how close an optimised output is to the reference one."""
    import numpy as np

    error = np.mean((np.asarray(image, np.float64) - np.asarray(reference, np.float64)) ** 2)
    if error == 0:
        return PSNR_IDENTICAL
    return min(PSNR_IDENTICAL, float(10 * np.log10(255.0**2 / error)))


def build_tiny_autoencoder(folder: Path, tiny: bool) -> Path:
    """A random-weight tiny autoencoder for SD latents: TAESD's full-size architecture (diffusers'
    ``AutoencoderTiny`` defaults), or the tests' tiny one."""
    if tiny:
        from tiny_pipelines import build_tiny_autoencoder as build_tests_one

        return build_tests_one(folder)
    from diffusers import AutoencoderTiny

    AutoencoderTiny().save_pretrained(folder, safe_serialization=True)
    return folder


def build_text_model(folder: Path, tiny: bool, device: str, dtype) -> Path:
    """A random-weight instruct model: the 1.5B architecture of the default text model
    (``TEXT_MODEL_1_5B``) with a tokenizer of its vocabulary's size (``enlarge_tokenizer``: a
    grammar's per-token work grows with it), or the tests' tiny model and tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from backend.tiny_text_model import build_tiny_text_model

    build_tiny_text_model(folder)  # tokenizer, chat template and tiny weights
    if tiny:
        return folder
    enlarge_tokenizer(folder, TEXT_MODEL_TOKENS)
    tiny_config = Qwen2Config.from_pretrained(folder)
    config = Qwen2Config(**TEXT_MODEL_1_5B, bos_token_id=None, eos_token_id=tiny_config.eos_token_id,
                         pad_token_id=tiny_config.pad_token_id)
    with torch.device(device):
        model = Qwen2ForCausalLM(config)
    model.to(dtype)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(folder, safe_serialization=True)  # replaces the tiny weights and config
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return folder


def enlarge_tokenizer(folder: Path, tokens: int, seed: int = 0) -> int:
    """Grow the byte-level BPE tokenizer in ``folder`` (the tiny text model's) to ``tokens`` tokens
    with made-up merges, in seconds and without any text to train on: every run of up to four
    lowercase letters, with and without a leading space, as a real vocabulary holds word pieces
    (runs of four: a random sample, as many as fit). The tokens already there keep their ids (the
    special ones included). Returns the number of tokens."""
    path = folder / "tokenizer.json"
    document = json.loads(path.read_text())
    vocab, merges = document["model"]["vocab"], document["model"]["merges"]
    known = set(map(tuple, merges))

    def add(left: str, right: str) -> None:
        if len(vocab) < tokens and left + right not in vocab and (left, right) not in known:
            vocab[left + right] = len(vocab)
            merges.append([left, right])
            known.add((left, right))

    space = "\u0120"  # how byte-level BPE writes a space
    letters = string.ascii_lowercase
    for letter in letters:  # one letter after a space: the roots of the longer runs
        add(space, letter)
    runs = [list(letters), [space + letter for letter in letters]]
    for length in (2, 3, 4):
        longer = [(run, letter) for run in itertools.chain(*runs) for letter in letters]
        if length == 4:
            random.Random(seed).shuffle(longer)
        for run, letter in longer:
            add(run, letter)
        runs = [[run + letter for run, letter in longer if run + letter in vocab]]
    path.write_text(json.dumps(document, ensure_ascii=False))
    return len(vocab)
