"""The vendor SDK (adapter ABC, its errors, the endpoint model, the device-kind table and
the conformance suite) imports on its own: nothing of the controller, the simulators or
the built-in adapters, and no third-party package beyond pydantic (and pytest for the
suite). A vendor's adapter package depends on this much and no more."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SDQN_PACKAGES = {"controller", "southbound", "adapters", "qnum", "simulators"}
#: pydantic and what it imports: the endpoint and result models are pydantic models.
PYDANTIC = {"pydantic", "pydantic_core", "annotated_types", "typing_extensions",
            "typing_inspection"}

PROBE = """
import json, sys
before = set(sys.modules)
for name in sys.argv[1:]:
    __import__(name)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def loaded_by(*modules: str) -> list[str]:
    """Modules a fresh interpreter loads to import `modules`."""
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], check=True,
                         capture_output=True, text=True).stdout
    names: list[str] = json.loads(out)
    return names


def split(names: list[str]) -> tuple[set[str], set[str]]:
    """(sdqn modules, third-party top-level packages) among `names`."""
    tops = {n.split(".")[0] for n in names}
    ours = {n for n in names if n.split(".")[0] in SDQN_PACKAGES}
    third = {t for t in tops - SDQN_PACKAGES
             if t not in sys.stdlib_module_names and not t.startswith("_")}
    return ours, third


def test_adapter_api_imports_alone() -> None:
    ours, third = split(loaded_by("southbound.adapter"))
    assert ours == {"southbound", "southbound.adapter", "southbound.model"}
    assert third <= PYDANTIC


@pytest.mark.parametrize("module", ["southbound.model", "southbound.kinds"])
def test_sdk_models_import_alone(module: str) -> None:
    ours, third = split(loaded_by(module))
    assert ours <= {"southbound", "southbound.model", "southbound.kinds"}
    assert third <= PYDANTIC


def test_conformance_suite_needs_only_the_sdk_and_pytest() -> None:
    ours, third = split(loaded_by("southbound.conformance"))
    assert ours == {"southbound", "southbound.adapter", "southbound.model",
                    "southbound.conformance"}
    heavy = {"lxml", "ncclient", "paramiko", "libyang", "numpy", "ortools", "structlog",
             "networkx", "grpc"}
    assert not third & heavy, sorted(third & heavy)
