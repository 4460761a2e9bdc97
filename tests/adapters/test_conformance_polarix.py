"""The shared adapter conformance suite: the Polarix APC adapter against its HTTP emulator
(simulators/vendor_apc.py) on localhost."""

from __future__ import annotations

import pytest

from adapters.vendor_apc import PolarixApcAdapter
from adapters.vendor_apc.mapping import APC_NS
from simulators.vendor_apc import PolarixApcEmulator
from southbound.conformance import AdapterConformance, ConformanceTarget, Feature
from tests.adapters.conftest import apc_xml, endpoint

#: The device's tracking tolerance when sdqn-apc sets none (Polarix default, mrad).
DEFAULT_TOLERANCE_MRAD = 100.0


class TestPolarixApcAdapterConformance(AdapterConformance):
    @pytest.fixture
    def conformance_target(self, emulator: PolarixApcEmulator) -> ConformanceTarget:
        device = emulator.device

        def notify() -> None:  # cross the tolerance: the device raises or clears its alarm
            device.set_error(1.0 if device.error_mrad > DEFAULT_TOLERANCE_MRAD else 300.0)

        return ConformanceTarget(
            adapter=lambda ep: PolarixApcAdapter(ep, timeout=5),
            endpoint=endpoint(emulator.port),
            config=apc_xml("3600"),
            patch=f'<apc xmlns="{APC_NS}"><calibration-interval>1800</calibration-interval>'
                  "</apc>",
            patched=apc_xml("1800"),
            invalid=apc_xml("600", deferral="600"),  # vendor rule E131: deferral < interval
            features=frozenset(Feature),
            action=f'<apc xmlns="{APC_NS}"><calibrate><force>true</force></calibrate></apc>',
            action_output=frozenset({"result", "expected-duration"}),
            notify=notify)
