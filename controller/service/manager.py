"""The service layer of the daemon: one object that ties intent to devices.

Installs the Q-NUM expander into the store, pushes the devices whose configuration the
expansion changed (all-or-nothing, inside the datastore transaction), and publishes the
committed plan and the device sessions' state into <operational>. `start()` runs the
loops that keep it true afterwards: device notifications and telemetry feed the
self-healer (root alarms, re-route of what a failure hit), whose alarms go to ietf-alarms
and northbound as RFC 8632 notifications. Devices out of service (locked, or not reached
yet: controller/service/admin_state.py) are left out of the plan, the push and every
loop; the provisioning watch brings the ones not reached yet in once they answer.

A confirmed commit a restart left pending (RFC 6241 §8.4.1) is reverted here, in
`recover`, not by the store at construction (it is opened with `defer_restart_revert`):
only once the Q-NUM expander and the device push are attached does the revert re-expand
intended from the old running and push every device back, all in one transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import structlog
from lxml import etree

from controller.datastore.apply import JournalOp
from controller.datastore.locks import SYSTEM_SESSION
from controller.datastore.nmda import Datastore, Expanded, NmdaStore, Transaction
from controller.errors import NetconfError
from controller.service.alarms import AlarmKey, AlarmManager, Severity
from controller.service.apc_spec import ApcSpecMonitor
from controller.service.assurance import ServiceAssurance, read_settings
from controller.service.calibration import (
    CalibrationEvent,
    CalibrationScheduler,
    compensators,
)
from controller.service.calibration_watch import CalibrationWatch
from controller.service.change import ChangeControl, ScheduledOptimise
from controller.service.device_events import DeviceEventStream
from controller.service.device_faults import ImpairmentMonitor, memory_baseline
from controller.service.device_push import DevicePush
from controller.service.device_restart import RestartWatch
from controller.service.device_states import publish_device_states
from controller.service.expansion import Expansion, QnumExpander, expansion_of
from controller.service.heal import SelfHealer
from controller.service.health import NetworkHealth
from controller.service.impact_log import ImpactLog
from controller.service.netstate import NetworkStatePublisher
from controller.service.oob import OutOfBandEvent, OutOfBandGuard
from controller.service.polarisation_drift import DriftMonitor
from controller.service.provisioning import ProvisioningRecord, ProvisioningWatch
from controller.service.telemetry import TelemetryLoop, read_device
from southbound.adapter import AdapterError, DeviceAdapter
from southbound.commit import NetworkCommit
from southbound.history import CommitHistory
from southbound.inflight import InflightRecord
from southbound.model import DeviceChange, Exclusion, SyncState
from southbound.pool import SessionPool
from southbound.sync import SyncPolicy

log = structlog.get_logger(__name__)

#: the alarm of a confirmed commit reverted by a restart, on the running datastore
#: (the RFC 8342 identity; ietf-alarms resources may be any string)
REVERTED = AlarmKey("ietf-datastores:running", "sdqn-alarms:confirmed-commit-reverted")


class Release(NamedTuple):
    """One make-before-break release: the bridged devices pushed their intended
    configuration (`ok`) after `waited_s`; `timed_out` when the new paths were not all
    stable within the bounded wait, `unstable` naming their devices that were not."""

    devices: list[str]
    ok: bool
    waited_s: float
    timed_out: bool = False
    unstable: tuple[str, ...] = ()


class ServiceManager:
    def __init__(self, store: NmdaStore, *, username: str = "admin",
                 password: str | None = "admin", history_path: Path | None = None,
                 confirm_timeout_s: float = 120.0, device_timeout_s: float = 10.0,
                 time_limit_s: float | None = None,
                 adapters: dict[str, type[DeviceAdapter]] | None = None,
                 notify: Callable[[etree._Element], None] | None = None,
                 inflight_path: Path | None = None,
                 provisioning_path: Path | None = None) -> None:
        self.store = store
        self.expander = QnumExpander(username=username, password=password,
                                     time_limit_s=time_limit_s)
        self.expander.load_committed(store)
        record = ProvisioningRecord(provisioning_path) if provisioning_path else None
        if record is not None:   # still not reached when the last controller stopped
            committed = self.expander.committed
            committed.excluded.update({node: Exclusion.UNREACHABLE for node in record.read()
                                       if node in committed.in_service})
        self.pool = SessionPool([], adapters=adapters, timeout=device_timeout_s)
        self.expander.reachability = self.pool.reachable
        self.history = CommitHistory(history_path) if history_path is not None else None
        #: each change of running's impact, beside the network commits' history
        self.impacts = ImpactLog(history_path.with_name("commit-impact.sqlite")
                                 if history_path is not None else None)
        self.inflight = InflightRecord(inflight_path) if inflight_path is not None else None
        self.committer = NetworkCommit(self.pool, history=self.history,
                                       confirm_timeout_s=confirm_timeout_s,
                                       inflight=self.inflight)
        self.push = DevicePush(
            self.committer, self._device_changes,
            label=lambda: f"datastore commit (running v{store.versions[Datastore.RUNNING] + 1})")
        self.expander.adopted.append(self._on_adopted)
        self.expander.push_estimate_s = lambda: (self.push.last_result.duration_s
                                                 if self.push.last_result else 1.0)
        self.change = ChangeControl(store, self.expander)
        self.scheduled_optimise = ScheduledOptimise(self.change)
        with store.atomic():
            store.expander = self.expander
            store.participants.append(self.push)
            store.listeners.append(self._on_change)
        self.states = publish_device_states(self.pool, store)
        self.alarms = AlarmManager(store, notify=notify)
        self.last_pushed: list[str] = []
        self._push_suspended = False
        self.healer = SelfHealer(store, self.expander, alarms=self.alarms,
                                 pushed=lambda: list(self.last_pushed),
                                 push_seconds=self._push_seconds)
        self.provisioning = ProvisioningWatch(store, self.expander, self.pool,
                                              alarms=self.alarms,
                                              node_resource=self.healer.node_resource,
                                              record=record)
        self.impairments = ImpairmentMonitor(
            self.alarms, self.healer.node_resource,
            baseline=lambda: memory_baseline(self.expander.committed.network,
                                             read_settings(store).memory_coherence_fraction))
        self.drift = DriftMonitor(self.alarms,
                                  lambda: compensators(self.expander.committed.network),
                                  lambda: read_settings(store), self.healer.link_resource)
        self.restarts = RestartWatch(self.alarms, self.healer.node_resource,
                                     verify=self._restore_rebooted, serves=self._serves)
        self.apc_spec = ApcSpecMonitor(self.alarms,
                                       lambda: compensators(self.expander.committed.network),
                                       lambda: read_settings(store), busy=self._busy_links,
                                       drift=self.drift.explaining,
                                       node_resource=self.healer.node_resource)
        self.healer.explaining = self._explaining
        self.assurance = ServiceAssurance(store, alarms=self.alarms, notify=notify,
                                          health=self._round_health,
                                          node_resource=self.healer.node_resource,
                                          network=lambda: self.expander.committed.network,
                                          link_resource=self.healer.link_resource,
                                          impairments=self._impairments,
                                          impaired_links=self._impaired_links)
        self._previous = self.expander.committed
        self.telemetry = TelemetryLoop(store, self.pool, lambda: self.expander.committed.plan,
                                       decide=self.assurance.on_round)
        # Root causes first: before the healer's threshold crossings they explain, the
        # calibration scheduler and `decide`.
        self.telemetry.observers.append(self.drift)
        self.telemetry.observers.append(self.apc_spec)
        self.telemetry.observers.append(self.healer.on_readings)
        self.telemetry.observers.append(self.impairments)
        self.telemetry.observers.append(self.restarts)
        self.telemetry.observers.append(lambda _readings, _at: self._retry_lost())
        self.telemetry.observers.append(NetworkStatePublisher(
            store, lambda: self.expander.committed.network,
            stale_after=lambda: read_settings(store).stale_after_rounds, notify=notify))
        self.events = DeviceEventStream(self.pool, self._on_device_notification,
                                        on_stream=self._on_stream)
        self.calibration = CalibrationScheduler(
            self.pool, lambda: self.expander.committed.plan,
            lambda: compensators(self.expander.committed.network),
            qber_threshold=lambda: self.healer.thresholds()[1],
            on_event=self._on_calibration, explained=self.drift.explaining,
            failing=self.apc_spec.failing)
        self.telemetry.observers.append(
            lambda readings, _at: self.calibration.run_once(readings))
        self.calibration_watch = CalibrationWatch(
            self.alarms, self.healer.node_resource,
            explained=lambda apc: (*self.drift.explaining(apc),
                                   *self.apc_spec.explaining(apc)))
        self.telemetry.observers.append(
            lambda _readings, _at: self.calibration_watch.check(self.calibration.clock()))
        # A drift crossing on a compensated fibre: calibrate its APC now.
        self.healer.on_threshold.append(
            lambda _subject, _value, apc: apc is not None
            and self.calibration.urgent(apc, "urgent-qber"))
        self.oob = OutOfBandGuard(store, self.pool, self.committer,
                                  on_event=self._on_out_of_band)
        self.oob.rebooted = self._rebooted
        self._lost: set[str] = set()        # devices whose notification session broke
        # Make-before-break (controller/service/mbb.py): devices carrying a bridge are
        # not "out of sync" with intended until the old paths are released.
        self.bridging: dict[str, str] = {}
        self.mbb_timeout_s = 600.0
        self.releases: list[Release] = []
        self._stop = threading.Event()
        self.oob.sync.intended = lambda node: (self.bridging.get(node)
                                               or self.oob.intended_xml(node))

    def _push_seconds(self) -> float:
        """The last push's device phases (prepare, commit, confirm) in wall seconds."""
        result = self.push.last_result
        if result is None:
            return 0.0
        return sum(result.phase_s.values()) if result.phase_s else result.duration_s

    def recover(self) -> dict[str, list[str]]:
        """At start-up: finish what a dead controller left half done, then make every
        device run what <intended> says (RFC 6241 §8.4.1: a pending confirmed commit can
        be confirmed or cancelled by its persist-id from any session)."""
        report: dict[str, list[str]] = {"confirmed": [], "cancelled": [], "pushed": [],
                                        "reverted": []}
        committed = self.expander.committed
        self.pool.update(committed.endpoints, excluded=committed.excluded)
        record = self.inflight.read() if self.inflight is not None else None
        if record is not None:
            for node in record.nodes:
                want = self.oob.intended_xml(node)
                try:
                    with self.pool.session(node, wait_s=5) as adapter:
                        have = adapter.get_config("running")
                        same = want is not None and not self.committer.differ.diff(
                            have, want, self.pool.endpoint(node).modules)
                        if same:
                            adapter.confirm(persist_id=record.commit_id)
                        else:
                            adapter.cancel_commit(persist_id=record.commit_id)
                    report["confirmed" if same else "cancelled"].append(node)
                except AdapterError as exc:   # already reverted or confirmed: check-sync
                    log.info("recovery: pending commit not found", device=node,
                             error=str(exc))
            self.inflight.end()  # type: ignore[union-attr]
        if self.store.revert_due:
            report["reverted"] = self._revert_left_pending()
        elif self.expander.committed.docs:
            with self.store.sessions.server_change("start-up recovery"):
                self.store.reexpand()      # the plan, operational state, pool inventory
        for node in self.pool.node_ids:
            if self.oob.sync.check_sync(node).state is SyncState.OUT_OF_SYNC \
                    and self.oob.sync.sync_to(node).success:
                report["pushed"].append(node)
                self.assurance.on_repushed(node)
        log.info("start-up recovery", **report)
        return report

    def _revert_left_pending(self) -> list[str]:
        """RFC 6241 §8.4.1 through the service layer: running goes back, Q-NUM expands it
        into intended again and the devices whose configuration that changes are pushed,
        as one transaction; returns them. A device that cannot take it does not stop the
        revert (the RFC's MUST): the datastores revert alone and check-sync brings every
        device it reaches in line. Either way an alarm says so (cleared by the next
        commit of running by a client), and the store's confirm listeners send RFC 6470
        netconf-confirmed-commit with confirm-event "timeout"."""
        try:
            self.store.revert_left_pending()
        except NetconfError as exc:
            log.error("devices refused the revert of a pending confirmed commit: "
                      "reverting the datastores alone", error=str(exc))
            self._push_suspended = True
            try:
                self.store.revert_left_pending()
            finally:
                self._push_suspended = False
            self.alarms.raise_alarm(
                REVERTED, Severity.MAJOR, "a confirmed commit pending at restart was "
                f"reverted (RFC 6241 §8.4.1); devices not pushed back: {exc}")
            return []
        pushed = list(self.last_pushed)
        self.alarms.raise_alarm(
            REVERTED, Severity.WARNING, "a confirmed commit pending at restart was reverted "
            "(RFC 6241 §8.4.1): running, intended and "
            + (f"{len(pushed)} devices ({', '.join(pushed)})" if pushed else "no device")
            + " back to before it")
        return pushed

    def start(self, telemetry_interval_s: float | None = None,
              sync_interval_s: float | None = None) -> None:
        """Run the control loops: notifications, self-healing, the scheduled
        re-optimisation and (if given) telemetry and check-sync."""
        self.healer.start()
        self.events.start()
        self.provisioning.start()
        self.scheduled_optimise.start()
        if telemetry_interval_s is not None:
            self.telemetry.start(telemetry_interval_s)
        if sync_interval_s is not None:
            self.oob.start(sync_interval_s)

    def _on_calibration(self, event: CalibrationEvent) -> None:
        self.calibration_watch.on_event(event)
        key = AlarmKey(self.healer.node_resource(event.apc), "sdqn-alarms:calibration-failed")
        if event.result == "failed":
            self.alarms.raise_alarm(key, Severity.MAJOR,
                                    f"{event.reason} calibration of {event.apc} "
                                    f"({', '.join(event.links)}) failed: {event.error}")
        else:
            self.alarms.clear_alarm(key, f"{event.reason} calibration {event.result}")

    def _on_device_notification(self, node: str, xml: str) -> None:
        """Every notification a device sends: link failures to the healer, configuration
        changes made behind the controller's back to the out-of-band guard, an APC's
        out-of-spec crossings to its monitor."""
        self.healer.on_notification(node, xml)
        self.oob.on_notification(node, xml)
        self.apc_spec.on_notification(node, xml)

    # -- what a round knows, management sessions, reboots ---------------------------------
    def _round_health(self) -> NetworkHealth:
        """The failures the plan assumed, plus those the devices report now (the
        correlator, fed earlier in the same telemetry round or by notifications): a path
        broken since the last re-plan is down within the round, before self-healing acts."""
        planned = self.expander.health
        roots = self.healer.correlator.roots()
        return replace(planned, failed_links=planned.failed_links | roots.failed_links,
                       failed_nodes=planned.failed_nodes | roots.failed_nodes,
                       watch=planned.watch | roots.watch)

    def _impairments(self) -> dict[str, str]:
        """node → every fault it reports or recovers from that spoils what crosses it."""
        out = dict(self.impairments.impairments())
        for node, why in self.restarts.impairments().items():
            out[node] = f"{out[node]}; {why}" if node in out else why
        return out

    def _serves(self, node: str) -> bool:
        """An admitted service's path, or a fibre of it the node compensates, crosses it."""
        network = self.expander.committed.network
        for record in list(self.assurance.records().values()):
            if not record.admitted:
                continue
            if node in record.route_nodes or (network is not None and any(
                    network.links[link].compensator == node
                    for link in record.route_links if link in network.links)):
                return True
        return False

    def _on_stream(self, node: str, up: bool) -> None:
        """A device's notification session broke or came back. device-unreachable is
        raised at once; it clears only when the device answers again *and* its
        configuration was checked (a reboot restored by the restart watch, an out-of-band
        change handled by its policy), as its YANG description says."""
        if not up:
            self._lost.add(node)
            self.healer.on_stream(node, False)
        elif node in self._lost:            # (a first subscription lost nothing)
            self._session_back(node)

    def _session_back(self, node: str) -> None:
        """Clear device-unreachable if the device answers and is in sync (restored if it
        rebooted, its out-of-band change handled); otherwise the next telemetry round asks
        again (`_retry_lost`)."""
        try:
            with self.pool.session(node, wait_s=5) as adapter:
                state = adapter.get_state()
        except AdapterError as exc:
            log.info("device back but not readable yet", device=node, error=str(exc))
            return
        self.restarts.see(node, state)
        self.oob.check(node)
        sync = self.pool.state(node)[1]
        if sync is SyncState.IN_SYNC or self.oob.intended_xml(node) is None:
            self._lost.discard(node)
            self.healer.on_stream(node, True)
        else:
            log.info("device back, not in sync yet: device-unreachable kept", device=node,
                     sync=sync.value)

    def _retry_lost(self) -> None:
        """Each telemetry round: devices whose stream is back but that were not yet found
        in sync (unreadable at that moment, or an out-of-band change not handled yet)."""
        back = set(self.events.subscribed)
        for node in sorted(self._lost.copy() & back):
            self._session_back(node)

    def _rebooted(self, node: str) -> bool:
        """Asked by the out-of-band guard about a device it found out of sync: True when
        the difference is a reboot's (the restart watch restores it; no out-of-band
        change)."""
        if self.restarts.recovering(node):
            return True
        try:
            with self.pool.session(node, wait_s=5) as adapter:
                state = adapter.get_state()
        except AdapterError:
            return False
        return self.restarts.see(node, state)

    def _restore_rebooted(self, node: str) -> bool:
        """The restart watch's check of a rebooted device: in sync with intended, or
        pushed back to it (the boot loaded startup or the factory configuration)."""
        if self.oob.sync.intended(node) is None:
            return True                     # nothing intended for it: nothing to restore
        report = self.oob.sync.check_sync(node)
        if report.state is SyncState.IN_SYNC:
            return True
        if report.state is not SyncState.OUT_OF_SYNC:
            return False
        result = self.oob.sync.sync_to(node)
        log.info("rebooted device configured again", device=node, ok=result.success)
        return result.success

    # -- what the root-cause monitors share ------------------------------------------------
    def _busy_links(self) -> set[str]:
        """Fibres admitted services use in the committed plan."""
        plan = self.expander.committed.plan
        return set(plan.link_load()) if plan is not None else set()

    def _impaired_links(self) -> dict[str, str]:
        """link → why it impairs the services crossing it: its drift, its APC's failure."""
        out = dict(self.drift.impaired_links())
        for link, why in self.apc_spec.impaired_links().items():
            out[link] = f"{out[link]}; {why}" if link in out else why
        return out

    def _explaining(self, links: Sequence[str]) -> tuple[str, ...]:
        """Resources of the active root alarms that explain a quality loss on `links`
        (a polarisation drift on one of them, an APC out of spec on one)."""
        drifting = self.drift.impaired_links()
        return (*(self.healer.link_resource(lk) for lk in links if lk in drifting),
                *self.apc_spec.explaining_links(links))

    def _on_out_of_band(self, event: OutOfBandEvent) -> None:
        """An alarm either way, revert or import: cleared at once when the policy was applied,
        kept (major) while the device refuses."""
        key = AlarmKey(self.healer.node_resource(event.node_id),
                       "sdqn-alarms:out-of-band-change", event.action.value)
        summary = f"configuration of {event.node_id} changed outside the controller: " \
                  f"{event.readable or f'{len(event.changes)} changes'}"
        if event.success:
            self.alarms.raise_alarm(key, Severity.WARNING, summary)
            self.alarms.clear_alarm(key, f"{event.action.value} applied")
            if event.action is SyncPolicy.REVERT:   # the device runs intended again
                self.assurance.on_repushed(event.node_id)
        else:
            self.alarms.raise_alarm(key, Severity.MAJOR,
                                    f"{summary}; {event.action.value} failed: {event.error}")

    def close(self) -> None:
        self._stop.set()
        self.scheduled_optimise.stop()
        self.provisioning.stop()
        self.oob.stop()
        self.events.stop()
        self.healer.stop()
        self.telemetry.stop()
        self.pool.close()
        self.states.flush()
        self.states.close()
        if self.history is not None:
            self.history.close()
        self.impacts.close()

    def _device_changes(self, _txn: Transaction, expanded: Expanded) -> Sequence[DeviceChange]:
        self.last_pushed = []
        pending = expansion_of(expanded)
        if pending is None or self._push_suspended:
            return []
        # Devices out of service are not pushed (admin_state.py). The pool takes the
        # change's exclusions for the devices joining the inventory now (one that joins
        # locked is never contacted) and lets the ones joining service in (to be pushed);
        # the change's others (a device it locks or unlocks) apply once it is done
        # (`_on_adopted`), as it may still fail.
        before = self.expander.committed
        excluded = {node: why for node, why in pending.excluded.items()
                    if node not in before.in_service}
        excluded.update({node: why for node, why in before.excluded.items()
                         if why is Exclusion.LOCKED})
        self.pool.update(pending.endpoints, excluded=excluded)
        managed = set(self.pool.node_ids) - set(pending.excluded)
        # A failed device cannot take configuration; check-sync brings it in line when
        # it is back (its intended entry is already right).
        down = pending.health.failed_nodes
        changes = [change for change in pending.changes
                   if change.node_id in managed and change.node_id not in down]
        self.last_pushed = [change.node_id for change in changes]
        return changes

    def _on_change(self, ds: Datastore, _ops: Sequence[JournalOp], session: int) -> None:
        if ds is Datastore.INTENDED:
            self.events.refresh()
        elif ds is Datastore.RUNNING and session != SYSTEM_SESSION:
            self.alarms.clear_alarm(REVERTED, "running committed again")
            self.healer.on_commit()

    def _on_adopted(self, committed: Expansion) -> None:
        """A commit of running succeeded (pipeline phase 7): service states follow the
        plan, and make-before-break bridges are released once the new paths are stable."""
        previous, self._previous = self._previous, committed
        if committed.running_commit is not None and committed.impact is not None:
            self.impacts.record(committed.running_commit, committed.impact.to_json()["impact"])
        self.pool.set_excluded(committed.excluded)
        self._lost -= set(committed.excluded)     # no stream is kept to them
        self.provisioning.on_adopted(committed)
        self.assurance.on_adopted(committed, previous, pushed=set(self.last_pushed),
                                  healing=bool(self.expander.keep))
        if committed.bridges:
            self._start_release(committed)

    # -- make-before-break -----------------------------------------------------------------
    def _start_release(self, expansion: Expansion) -> None:
        """Watch the new paths of the services that make before they break (hard-switched
        ones have nothing left to release) and release every bridged device once they
        are stable."""
        for node, doc in expansion.bridges.items():
            self.bridging[node] = self.expander.device_xml(doc)
        plan = expansion.plan
        bridged = [s for s, move in sorted(expansion.moves.items()) if move.make_before_break]
        watch = sorted({n for name in bridged if plan is not None
                        for a in [plan.assignments[name]] if a.candidate is not None
                        for n in a.candidate.route.nodes})
        # the release belongs to the change of running that bridged (show-commit lists it)
        last = self.push.last_result
        origin = last.running_commit if last is not None else None
        threading.Thread(target=self._release,
                         args=(sorted(expansion.bridges), watch, origin),
                         daemon=True, name="make-before-break").start()

    def _stable(self, node: str) -> bool:
        try:
            with self.pool.session(node, wait_s=5) as adapter:
                return read_device(adapter.get_state()).stable
        except AdapterError:
            return False

    def _release(self, bridged: list[str], watch: list[str],
                 origin: str | None = None) -> None:
        """Break: once every device of the new paths (repeaters, q-ROADMs, end nodes)
        reports stable — or the bounded wait is over, which the log and `releases` say —
        every bridged device gets exactly its *current* intended configuration."""
        start = time.monotonic()
        unstable = list(watch)
        while not self._stop.wait(0.5):
            unstable = [n for n in watch if not self._stable(n)]
            if not unstable or time.monotonic() - start > self.mbb_timeout_s:
                break
        if self._stop.is_set():
            return
        if unstable:
            log.warning("make-before-break: new paths not stable within the wait; releasing "
                        "the old paths anyway", unstable=unstable,
                        timeout_s=self.mbb_timeout_s)
        for _attempt in range(3):                # a device may be busy: try again
            docs = self.expander.committed.docs
            changes = [DeviceChange(node_id=n, config_xml=self.expander.device_xml(docs[n]))
                       for n in bridged if n in docs and self.bridging.get(n) is not None]
            result = self.committer.apply(changes,
                                          label="make-before-break: release old paths",
                                          running_commit=origin)
            if result.success or self._stop.wait(10):
                break
        for n in bridged:   # released, or left to check-sync (intended is the reference)
            self.bridging.pop(n, None)
        waited = time.monotonic() - start
        self.releases.append(Release(bridged, result.success, waited, bool(unstable),
                                     tuple(unstable)))
        log.info("make-before-break released", devices=bridged, ok=result.success,
                 waited_s=round(waited, 2), timed_out=bool(unstable))
