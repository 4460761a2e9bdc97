"""Shared fixtures for the YANG tests: one libyang context holding every sdqn module.

The context is built once per session because compiling the IETF modules dominates the
cost of these tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libyang
import pytest

ROOT = Path(__file__).resolve().parents[2]
YANG_DIR = ROOT / "yang"
IETF_DIR = ROOT / ".venv" / "share" / "yang" / "modules" / "ietf"
CONFIG_DIR = ROOT / "config"
INSTANCE_DIR = Path(__file__).resolve().parent / "instances"

# sdqn-types must be *implemented*, not just imported: identityref values (device-kind,
# application) may only name identities of implemented modules (RFC 7950 §9.10.2 and
# libyang's check), so it is loaded explicitly.
MODULES = sorted(p.stem for p in YANG_DIR.glob("*.yang"))
IETF_IMPLEMENTED = ("ietf-network", "ietf-network-topology")


def module_files() -> list[Path]:
    """Every YANG module the product defines."""
    return sorted(YANG_DIR.glob("*.yang"))


def load_json(path: Path) -> dict[str, Any]:
    """Read one RFC 7951 JSON instance document."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@pytest.fixture(scope="session")
def ctx() -> Iterator[libyang.Context]:
    context = libyang.Context(f"{YANG_DIR}:{IETF_DIR}")
    for name in (*IETF_IMPLEMENTED, *MODULES):
        context.load_module(name).feature_enable_all()
    yield context
    context.destroy()  # type: ignore[no-untyped-call]


def validate(
    context: libyang.Context, document: dict[str, Any], *, state: bool = False
) -> None:
    """Parse strictly and validate the modules present; raise LibyangError if invalid.

    Configuration documents are parsed with no_state so that a config-false leaf in a
    config file is an error, as it would be in running.
    """
    tree = context.parse_data_mem(
        json.dumps(document),
        "json",
        strict=True,
        no_state=not state,
        validate_present=True,
    )
    assert tree is not None
    try:
        tree.validate_all(no_state=not state, validate_present=True)
    finally:
        tree.free()
