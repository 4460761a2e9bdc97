"""The shared conformance suite for `DeviceAdapter` implementations (pytest).

Every adapter, built in or third party, runs the same tests against an emulator of its own
device, as each NAPALM driver runs NAPALM's base test suite. The tests check what
`southbound.adapter.DeviceAdapter` and adapters/README.md promise the network-wide commit:
sessions, reads of running and candidate, locks, the confirmed-commit transaction with
persist ids (RFC 6241 §8.3, §8.4), discard, `replace_running`, state, actions (RFC 7950
§7.15), notifications (RFC 5277) and the mapping of failures to RFC 6241 error-tags.

Use it by subclassing `AdapterConformance` in a test module and defining the
`conformance_target` fixture, which starts the emulator and describes it::

    from southbound.conformance import AdapterConformance, ConformanceTarget, Feature

    class TestMyAdapter(AdapterConformance):
        @pytest.fixture
        def conformance_target(self) -> Iterator[ConformanceTarget]:
            with MyEmulator() as emulator:
                yield ConformanceTarget(adapter=MyAdapter, endpoint=..., config=...,
                                        patch=..., patched=..., invalid=...,
                                        features=frozenset({Feature.MERGE}))

A fresh emulator per test (function scope) keeps the tests independent. An operation the
adapter legitimately lacks is declared by leaving its `Feature` out: the suite then checks
that the adapter refuses it with ``operation-not-supported`` (so the controller sees a
clear refusal) instead of skipping it.

Only pytest and the SDK are imported, so a vendor's package can run the suite without the
controller.
"""

from __future__ import annotations

import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum

import pytest

from southbound.adapter import AdapterError, DeviceAdapter
from southbound.model import DeviceEndpoint

__all__ = ["AdapterConformance", "ConformanceTarget", "Feature", "same_config"]

NOTIFICATION_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
#: A name no device module defines: actions by it must be refused.
PROBE = "sdqn-conformance-probe"
#: The confirm timeout of transactions the suite confirms itself (never reached).
LONG_CONFIRM_S = 120.0


class Feature(StrEnum):
    """Optional operations; an adapter that lacks one must refuse it with the RFC 6241
    error-tag ``operation-not-supported``."""

    #: `action()`: the device's YANG actions (the ABC's default refuses every action).
    ACTIONS = "actions"
    #: `stage(replace=False)`: NETCONF merge into the candidate.
    MERGE = "merge"
    #: `subscribe()`: device events as RFC 5277 notifications.
    NOTIFICATIONS = "notifications"
    #: The device checks credentials (wrong ones give ``access-denied``).
    AUTHENTICATION = "authentication"


@dataclass(frozen=True)
class ConformanceTarget:
    """One emulated device and what the suite may do with it.

    Configurations are YANG XML data elements of the device's modules, given in the form
    the device returns them (its canonical values, e.g. ``1800.0`` for a decimal64 a NETCONF
    server prints so); sibling order does not matter (`same_config`).
    """

    #: Makes an adapter for an endpoint (usually the adapter class itself).
    adapter: Callable[[DeviceEndpoint], DeviceAdapter]
    #: Where the emulator listens, with valid credentials.
    endpoint: DeviceEndpoint
    #: A valid configuration.
    config: str
    #: Merged into `config` (``stage(replace=False)``) it gives `patched`.
    patch: str
    #: Another valid configuration, different from `config`.
    patched: str
    #: A configuration the device refuses at `stage` or at `validate`.
    invalid: str
    features: frozenset[Feature] = frozenset()
    #: An action the device runs (RFC 7950 §7.15.2 data tree), for Feature.ACTIONS.
    action: str | None = None
    #: Output leaves (local names) the action's reply must contain.
    action_output: frozenset[str] = frozenset()
    #: Makes the device emit at least one notification, for Feature.NOTIFICATIONS.
    notify: Callable[[], None] | None = None
    #: The shortest confirmed-commit timeout the device honours (seconds).
    confirm_timeout: float = 1.0
    #: How long past its timeout an unconfirmed commit may take to revert (seconds).
    revert_within: float = 5.0

    def check(self) -> None:
        """Fail early on a target that declares a feature without what it needs."""
        if Feature.ACTIONS in self.features and self.action is None:
            pytest.fail("Feature.ACTIONS needs ConformanceTarget.action")
        if Feature.NOTIFICATIONS in self.features and self.notify is None:
            pytest.fail("Feature.NOTIFICATIONS needs ConformanceTarget.notify")
        if same_config(self.config, self.patched):
            pytest.fail("ConformanceTarget.config and .patched must differ")


# -- comparing configurations -----------------------------------------------------------------
def _canonical(element: ET.Element) -> tuple[object, ...]:
    children = sorted((_canonical(child) for child in element), key=repr)
    return (element.tag, (element.text or "").strip(), sorted(element.attrib.items()),
            tuple(children))


def _elements(xml: str) -> list[ET.Element]:
    return list(ET.fromstring(f"<conformance-root>{xml}</conformance-root>"))


def same_config(left: str, right: str) -> bool:
    """Equal as YANG data: same elements (by namespace), values and attributes, in any
    sibling order (whitespace-only text ignored)."""
    def key(xml: str) -> list[tuple[object, ...]]:
        return sorted((_canonical(e) for e in _elements(xml)), key=repr)

    return key(left) == key(right)


def _probe_action(config: str) -> str:
    """An action no module defines, on the top container of `config`."""
    top = _elements(config)[0]
    namespace = top.tag[1:].split("}", 1)[0] if top.tag.startswith("{") else ""
    local = top.tag.rsplit("}", 1)[-1]
    return f'<{local} xmlns="{namespace}"><{PROBE}/></{local}>'


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _refused(fn: Callable[[], object], node_id: str) -> AdapterError:
    """The AdapterError `fn` must raise, which must name the device."""
    with pytest.raises(AdapterError) as info:
        fn()
    assert info.value.node_id == node_id, f"AdapterError names {info.value.node_id!r}"
    return info.value


def _refusal(error: AdapterError) -> None:
    """A device refusing an operation is not a lost session: resource-denied would make the
    pool drop and reconnect the session."""
    assert error.tag is not None, f"no error-tag on {error}"
    assert error.tag != "resource-denied", f"a refusal reported as session loss: {error}"


# -- the suite ----------------------------------------------------------------------------------
Connect = Callable[..., DeviceAdapter]


class AdapterConformance:
    """Mix-in test class: subclass it (as ``Test…``) and define `conformance_target`."""

    @pytest.fixture
    def conformance_target(self) -> ConformanceTarget:
        pytest.fail("define the conformance_target fixture in your AdapterConformance "
                    "subclass")

    @pytest.fixture
    def conformance(self, conformance_target: ConformanceTarget) -> ConformanceTarget:
        conformance_target.check()
        return conformance_target

    @pytest.fixture
    def open_adapter(self, conformance: ConformanceTarget) -> Iterator[Connect]:
        """Opens adapters to the emulated device; each is closed at teardown."""
        opened: list[DeviceAdapter] = []

        def make(endpoint: DeviceEndpoint | None = None) -> DeviceAdapter:
            adapter = conformance.adapter(endpoint or conformance.endpoint)
            adapter.open()
            opened.append(adapter)
            return adapter

        yield make
        for adapter in opened:
            with suppress(AdapterError):
                adapter.close()

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def install(adapter: DeviceAdapter, config: str, persist: str) -> None:
        """Make running `config` by the transaction the network-wide commit runs."""
        adapter.lock()
        try:
            adapter.discard()
            adapter.stage(config, replace=True)
            adapter.validate()
            adapter.commit(confirm_timeout=LONG_CONFIRM_S, persist=persist)
            adapter.confirm(persist_id=persist)
        finally:
            adapter.unlock()

    @staticmethod
    def assert_config(actual: str, expected: str, what: str) -> None:
        assert same_config(actual, expected), f"{what}:\n{actual}\n!=\n{expected}"

    # -- session ----------------------------------------------------------------------------
    def test_open_keepalive_close(self, conformance: ConformanceTarget) -> None:
        adapter = conformance.adapter(conformance.endpoint)
        assert not adapter.connected
        adapter.open()
        try:
            assert adapter.connected
            capabilities = adapter.capabilities()
            assert capabilities and all(isinstance(c, str) for c in capabilities)
            adapter.keepalive()
        finally:
            adapter.close()
        assert not adapter.connected

    def test_close_is_idempotent(self, conformance: ConformanceTarget,
                                 open_adapter: Connect) -> None:
        conformance.adapter(conformance.endpoint).close()  # never opened
        adapter = open_adapter()
        adapter.close()
        adapter.close()
        assert not adapter.connected

    def test_operations_after_close_are_resource_denied(self, conformance: ConformanceTarget,
                                                        open_adapter: Connect) -> None:
        adapter = open_adapter()
        adapter.close()
        assert _refused(adapter.get_config, conformance.endpoint.node_id).tag == "resource-denied"

    def test_unreachable_device_is_resource_denied(self, conformance: ConformanceTarget) -> None:
        endpoint = conformance.endpoint.model_copy(update={"port": _unused_port()})
        adapter = conformance.adapter(endpoint)
        try:
            assert _refused(adapter.open, endpoint.node_id).tag == "resource-denied"
            assert not adapter.connected
        finally:
            adapter.close()

    def test_bad_credentials_are_access_denied(self, conformance: ConformanceTarget) -> None:
        if Feature.AUTHENTICATION not in conformance.features:
            pytest.skip("declared: the device does not authenticate")
        endpoint = conformance.endpoint.model_copy(
            update={"password": f"not-{conformance.endpoint.password}"})
        adapter = conformance.adapter(endpoint)
        try:
            assert _refused(adapter.open, endpoint.node_id).tag == "access-denied"
        finally:
            adapter.close()

    # -- reads ------------------------------------------------------------------------------
    def test_running_and_candidate(self, conformance: ConformanceTarget,
                                   open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-read")
        self.assert_config(adapter.get_config("running"), conformance.config, "running")
        self.assert_config(adapter.get_config(), conformance.config, "default source")
        self.assert_config(adapter.get_config("candidate"), conformance.config,
                           "candidate with nothing staged")

    def test_state_holds_the_configured_device(self, conformance: ConformanceTarget,
                                               open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-state")
        top = _elements(conformance.config)[0].tag
        assert any(e.tag == top for e in _elements(adapter.get_state())), \
            f"no {top} in the operational state"

    # -- locks ------------------------------------------------------------------------------
    def test_lock_held_by_another_session(self, conformance: ConformanceTarget,
                                          open_adapter: Connect) -> None:
        node = conformance.endpoint.node_id
        holder, other = open_adapter(), open_adapter()
        holder.lock()
        assert _refused(other.lock, node).tag == "lock-denied"
        error = _refused(lambda: other.stage(conformance.patched), node)
        assert error.tag == "in-use", error
        holder.unlock()
        other.lock()
        other.unlock()

    def test_lock_goes_with_the_session(self, conformance: ConformanceTarget,
                                        open_adapter: Connect) -> None:
        holder, other = open_adapter(), open_adapter()
        holder.lock()
        holder.close()
        other.lock()
        other.unlock()

    # -- the transaction --------------------------------------------------------------------
    def test_stage_validate_commit_confirm(self, conformance: ConformanceTarget,
                                           open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-base")
        adapter.lock()
        adapter.discard()
        adapter.stage(conformance.patched, replace=True)
        self.assert_config(adapter.get_config("candidate"), conformance.patched, "candidate")
        self.assert_config(adapter.get_config("running"), conformance.config,
                           "running before commit")
        adapter.validate()
        adapter.commit(confirm_timeout=conformance.confirm_timeout, persist="conformance-tx")
        self.assert_config(adapter.get_config("running"), conformance.patched,
                           "running after commit")
        adapter.confirm(persist_id="conformance-tx")
        adapter.unlock()
        time.sleep(conformance.confirm_timeout + 0.5)  # past the timeout: a confirmed commit stays
        self.assert_config(adapter.get_config("running"), conformance.patched,
                           "running after confirm")

    def test_unconfirmed_commit_reverts_by_itself(self, conformance: ConformanceTarget,
                                                  open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-base")
        adapter.lock()
        adapter.stage(conformance.patched)
        adapter.validate()
        adapter.commit(confirm_timeout=conformance.confirm_timeout, persist="conformance-lapse")
        adapter.unlock()
        self.assert_config(adapter.get_config(), conformance.patched, "running after commit")
        assert _wait_for(lambda: same_config(adapter.get_config(), conformance.config),
                         conformance.confirm_timeout + conformance.revert_within), \
            "an unconfirmed commit did not revert"

    def _left_pending(self, conformance: ConformanceTarget, open_adapter: Connect,
                      persist: str) -> DeviceAdapter:
        """A confirmed commit with a persist id whose session has closed (it outlives
        its session, RFC 6241 §8.4.1); returns another session to the same device."""
        committer, other = open_adapter(), open_adapter()
        self.install(committer, conformance.config, "conformance-base")
        committer.lock()
        committer.stage(conformance.patched)
        committer.validate()
        committer.commit(confirm_timeout=LONG_CONFIRM_S, persist=persist)
        committer.unlock()
        committer.close()
        return other

    def test_another_session_cancels_by_persist_id(self, conformance: ConformanceTarget,
                                                   open_adapter: Connect) -> None:
        other = self._left_pending(conformance, open_adapter, "conformance-cancel")
        self.assert_config(other.get_config(), conformance.patched, "running after commit")
        other.cancel_commit(persist_id="conformance-cancel")
        self.assert_config(other.get_config(), conformance.config, "running after cancel")

    def test_another_session_confirms_by_persist_id(self, conformance: ConformanceTarget,
                                                    open_adapter: Connect) -> None:
        other = self._left_pending(conformance, open_adapter, "conformance-confirm")
        other.confirm(persist_id="conformance-confirm")
        self.assert_config(other.get_config(), conformance.patched, "running after confirm")
        _refusal(_refused(lambda: other.cancel_commit(persist_id="conformance-confirm"),
                          conformance.endpoint.node_id))  # nothing is pending any more

    def test_unknown_persist_id_is_refused(self, conformance: ConformanceTarget,
                                           open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-base")
        node = conformance.endpoint.node_id
        _refusal(_refused(lambda: adapter.confirm(persist_id="conformance-unknown"), node))
        _refusal(_refused(lambda: adapter.cancel_commit(persist_id="conformance-unknown"),
                          node))
        self.assert_config(adapter.get_config(), conformance.config, "running")

    def test_discard_drops_the_candidate(self, conformance: ConformanceTarget,
                                         open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-base")
        adapter.lock()
        adapter.stage(conformance.patched)
        adapter.discard()
        self.assert_config(adapter.get_config("candidate"), conformance.config,
                           "candidate after discard")
        adapter.unlock()
        self.assert_config(adapter.get_config(), conformance.config, "running")

    def test_merge_into_the_candidate(self, conformance: ConformanceTarget,
                                      open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-base")
        adapter.lock()
        try:
            if Feature.MERGE not in conformance.features:
                error = _refused(lambda: adapter.stage(conformance.patch, replace=False),
                                 conformance.endpoint.node_id)
                assert error.tag == "operation-not-supported", error
                return
            adapter.stage(conformance.config, replace=True)
            adapter.stage(conformance.patch, replace=False)
            self.assert_config(adapter.get_config("candidate"), conformance.patched,
                               "candidate after merge")
            adapter.discard()
        finally:
            adapter.unlock()

    def test_replace_running(self, conformance: ConformanceTarget, open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-base")
        adapter.lock()
        adapter.replace_running(conformance.patched)
        adapter.unlock()
        self.assert_config(adapter.get_config(), conformance.patched, "running after replace")
        # replace_running confirmed its commit: a new transaction is not blocked by it
        self.install(adapter, conformance.config, "conformance-after-replace")
        self.assert_config(adapter.get_config(), conformance.config, "running")

    # -- refusals ---------------------------------------------------------------------------
    def test_refused_config_names_the_device(self, conformance: ConformanceTarget,
                                             open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-base")
        adapter.lock()

        def stage_and_validate() -> None:
            adapter.stage(conformance.invalid)
            adapter.validate()

        _refusal(_refused(stage_and_validate, conformance.endpoint.node_id))
        assert adapter.connected, "a refused configuration ended the session"
        adapter.discard()
        adapter.unlock()
        self.assert_config(adapter.get_config(), conformance.config, "running after a refusal")

    # -- actions ----------------------------------------------------------------------------
    def test_action(self, conformance: ConformanceTarget, open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-base")
        if conformance.action is None or Feature.ACTIONS not in conformance.features:
            error = _refused(lambda: adapter.action(_probe_action(conformance.config)),
                             conformance.endpoint.node_id)
            assert error.tag == "operation-not-supported", error
            return
        reply = {e.tag.rsplit("}", 1)[-1] for e in _elements(adapter.action(conformance.action))}
        assert conformance.action_output <= reply, f"action output {sorted(reply)}"

    def test_unknown_action_is_not_supported(self, conformance: ConformanceTarget,
                                             open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-base")
        error = _refused(lambda: adapter.action(_probe_action(conformance.config)),
                         conformance.endpoint.node_id)
        assert error.tag == "operation-not-supported", error

    # -- notifications ----------------------------------------------------------------------
    def test_notifications(self, conformance: ConformanceTarget, open_adapter: Connect) -> None:
        adapter = open_adapter()
        self.install(adapter, conformance.config, "conformance-base")
        received: list[str] = []
        arrived = threading.Event()

        def deliver(xml: str) -> None:
            received.append(xml)
            arrived.set()

        if Feature.NOTIFICATIONS not in conformance.features or conformance.notify is None:
            error = _refused(lambda: adapter.subscribe(deliver), conformance.endpoint.node_id)
            assert error.tag == "operation-not-supported", error
            return
        adapter.subscribe(deliver)
        # RFC 5277 §2.1.1: one subscription per session
        _refusal(_refused(lambda: adapter.subscribe(deliver), conformance.endpoint.node_id))
        conformance.notify()
        assert arrived.wait(10), "no notification arrived"
        root = ET.fromstring(received[0].encode())
        assert root.tag == f"{{{NOTIFICATION_NS}}}notification", received[0]
        assert root.find(f"{{{NOTIFICATION_NS}}}eventTime") is not None, received[0]
        adapter.close()  # ends the subscription
        assert not adapter.connected
