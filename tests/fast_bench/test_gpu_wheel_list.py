"""The wheels a GPU run carries (bench/gpu-wheels.txt, downloaded by bench/gpu_prepare.sh) are the
versions the tests ran with, and hold every library the benchmark's preflight imports that the GPU
machine lacks, so the GPU run measures the code the tests checked."""

from __future__ import annotations

import importlib.metadata
import re

from backend_process import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench.gpu_setup import PREFLIGHT_MODULES

# What the GPU machine's own python3 has (the device tool's page), with what they require
# (its torch is a CUDA build, which brings triton; the tests' CPU build does not).
MACHINE_PACKAGES = ("torch", "triton", "transformers", "accelerate", "peft", "numpy")
# The GPU machine's platform, for requirement markers (no extras).
MARKER_ENVIRONMENT = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                      "python_version": "3.12", "python_full_version": "3.12.1",
                      "platform_machine": "x86_64", "implementation_name": "cpython", "extra": ""}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)\s*(#.*)?$")


def carried_pins() -> dict[str, str]:
    """Distribution (normalised): version, for each line of bench/gpu-wheels.txt that is not a comment."""
    pins = {}
    for line in (ROOT / "bench" / "gpu-wheels.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"bench/gpu-wheels.txt: {line!r} is not 'name==version'"
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def requirements(distribution: str) -> set[str]:
    """What ``distribution`` (as installed here) requires on the GPU machine, normalised; nothing
    known for one not installed here (peft: on the machine, not in the tests' environment)."""
    try:
        texts = importlib.metadata.requires(distribution) or ()
    except importlib.metadata.PackageNotFoundError:
        return set()
    needed = set()
    for text in texts:
        requirement = Requirement(text)
        if not requirement.marker or requirement.marker.evaluate(MARKER_ENVIRONMENT):
            needed.add(canonicalize_name(requirement.name))
    return needed


def on_the_gpu_machine() -> set[str]:
    """The machine's own packages and, transitively, what they require, as far as the tests'
    versions of them say (the machine's may require less: its preflight has the last word)."""
    have, todo = set(), [canonicalize_name(name) for name in MACHINE_PACKAGES]
    while todo:
        name = todo.pop()
        if name not in have:
            have.add(name)
            todo.extend(requirements(name))
    return have


def test_each_carried_wheel_is_the_version_the_tests_ran_with():
    differ = {name: (version, importlib.metadata.version(name)) for name, version in carried_pins().items()
              if importlib.metadata.version(name) != version}
    assert not differ, f"bench/gpu-wheels.txt (carried, tested): {differ}"


def test_every_library_the_preflight_needs_is_on_the_machine_or_carried():
    carried = set(carried_pins()) | on_the_gpu_machine()
    needed = {canonicalize_name(distribution) for _, distribution in PREFLIGHT_MODULES}
    assert needed <= carried, f"neither on the GPU machine nor in bench/gpu-wheels.txt: {needed - carried}"


def test_every_dependency_of_a_carried_wheel_is_on_the_machine_or_carried():
    """The wheels are installed without their dependencies (the machine is offline), so the list
    must be closed: what a carried distribution requires is carried too or on the machine."""
    available = set(carried_pins()) | on_the_gpu_machine()
    lacking = {name: sorted(requirements(name) - available) for name in carried_pins()
               if requirements(name) - available}
    assert not lacking, f"carried wheels whose requirements are neither carried nor on the machine: {lacking}"
