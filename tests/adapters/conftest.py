"""Polarix APC emulators (real HTTP on localhost) and adapters connected to them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from adapters.vendor_apc import PolarixApcAdapter
from adapters.vendor_apc.mapping import APC_NS
from controller.datastore.schema import Schema
from simulators.vendor_apc import PolarixApc, PolarixApcEmulator
from southbound.adapter import AdapterError
from southbound.model import DeviceEndpoint
from tests.southbound.conftest import apc_schema, make_device

__all__ = ["apc_schema", "make_device"]  # fixtures re-used from the southbound tests

NODE = "apc-v"
PASSWORD = "secret"
Connect = Callable[[], PolarixApcAdapter]


def apc_xml(interval: str = "3600", deferral: str | None = None, tolerance: str | None = None,
            bases: tuple[str, ...] = ("rectilinear", "diagonal"), node: str = NODE) -> str:
    extra = "" if deferral is None else f"<max-deferral>{deferral}</max-deferral>"
    extra += "" if tolerance is None else f"<tracking-tolerance>{tolerance}</tracking-tolerance>"
    leaves = "".join(f"<target-bases>{b}</target-bases>" for b in bases)
    return (f'<apc xmlns="{APC_NS}"><node-id>{node}</node-id><link-id>l-{node}</link-id>'
            f"<calibration-interval>{interval}</calibration-interval>{extra}{leaves}</apc>")


def endpoint(port: int, password: str = PASSWORD, node: str = NODE) -> DeviceEndpoint:
    return DeviceEndpoint.model_validate({"node-id": node, "port": port, "password": password,
                                          "adapter": "polarix-apc",
                                          "modules": ("sdqn-apc",)})


def wait_for(predicate: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def tag_of(fn: Callable[[], object]) -> tuple[str | None, str]:
    """The error-tag and message of the AdapterError `fn` must raise."""
    with pytest.raises(AdapterError) as info:
        fn()
    return info.value.tag, str(info.value)


@pytest.fixture(scope="module")
def state_schema() -> Schema:
    """Operational data carries sdqn-types identities, so that module must be implemented."""
    return Schema(["sdqn-types", "sdqn-apc"])


@pytest.fixture
def device() -> PolarixApc:
    """The emulated device behind `emulator`; tests may override it (e.g. slower physics)."""
    return PolarixApc()


@pytest.fixture
def emulator(device: PolarixApc) -> Iterator[PolarixApcEmulator]:
    emu = PolarixApcEmulator(users={"admin": PASSWORD}, device=device).start()
    yield emu
    emu.stop()


@pytest.fixture
def connect(emulator: PolarixApcEmulator) -> Iterator[Connect]:
    """Opens adapters to `emulator`; every one is closed at teardown."""
    opened: list[PolarixApcAdapter] = []

    def make() -> PolarixApcAdapter:
        adapter = PolarixApcAdapter(endpoint(emulator.port), timeout=5)
        adapter.open()
        opened.append(adapter)
        return adapter

    yield make
    for adapter in opened:
        adapter.close()
