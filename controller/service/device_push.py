"""The devices as a participant of the commit pipeline (controller/datastore/pipeline.py).

Phase 4 (prepare) renders each affected device's configuration from the expansion and
pushes it with a confirmed commit (RFC 6241 §8.4): every device runs it but reverts by
itself unless confirmed. A device that refuses fails the phase, naming the device, and
the store rolls running and intended back: devices, running and intended change together
or not at all (controller/README.md, "A commit is one transaction"). Phase 5 makes the
datastores durable; phase 6 (confirm) confirms the devices. A controller killed before
the durable write leaves devices that revert (or that start-up recovery cancels); killed
after it, recovery confirms the devices' pending commit (southbound/inflight.py).

A device that still fails to confirm (after a second chance, southbound/commit.py) gets
every device put back, and phase 6 raises, naming it: the pipeline then writes the
datastores back too (controller/datastore/pipeline.py). The committer gets an error,
never `<ok/>` while a device runs something else than intended.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from controller.datastore.nmda import Datastore, Expanded, Transaction
from controller.errors import ErrorTag, NetconfError, RpcError
from southbound.commit import NetworkCommit, StagedCommit
from southbound.model import CommitResult, DeviceChange

log = structlog.get_logger(__name__)

#: which devices get which configuration, from the transaction and its expansion
Changes = Callable[[Transaction, Expanded], Sequence[DeviceChange]]


class DevicePush:
    def __init__(self, committer: NetworkCommit, changes: Changes, *,
                 label: Callable[[], str] = lambda: "datastore commit") -> None:
        self.committer = committer
        self.changes = changes
        self.label = label
        self.last_result: CommitResult | None = None

    def prepare(self, txn: Transaction, expanded: Expanded) -> StagedCommit | None:
        changes = list(self.changes(txn, expanded))
        if not changes:
            return None
        # The network commit records who made the change (RFC 6470 §2.1 changed-by) and,
        # for the server's own changes, why.
        who = txn.changed_by
        label = self.label()
        if who is not None and who.reason:
            label = f"{label}: {who.reason}"
        # A change of running names its commit-history record, so that show-commit can
        # list what it did to each device (southbound/history.py).
        running = txn.commit_id if txn.ops.get(Datastore.RUNNING) else None
        staged = self.committer.prepare(changes, label=label,
                                        user=who.user if who is not None else None,
                                        running_commit=running)
        if staged.ready:
            return staged
        self.last_result = staged.result
        raise self._refused(staged.result)

    def confirm(self, staged: StagedCommit) -> None:
        result = self.last_result = staged.confirm()
        if not result.success:
            raise self._refused(result)

    def abort(self, staged: StagedCommit) -> None:
        self.last_result = staged.cancel()

    def compensate(self, staged: StagedCommit) -> None:
        """Another participant failed to confirm after the devices did: every device gets
        its configuration from before the commit back."""
        back = [DeviceChange(node_id=n, config_xml=staged.before[n], replace=True)
                for n in staged.nodes if n in staged.before]
        self.last_result = self.committer.apply(back, label=f"undo {staged.commit_id}")

    @staticmethod
    def _refused(result: CommitResult) -> NetconfError:
        """The error the committer sees: one per failed device, named (RFC 6241
        Appendix A operation-failed, bad-element = the node)."""
        failed = {n: o.error for n, o in result.devices.items() if o.status == "failed"}
        log.warning("device push failed; datastores unchanged", phase=result.phase_failed,
                    devices=failed)
        return NetconfError([
            RpcError(tag=ErrorTag.OPERATION_FAILED,
                     message=f"device {node}: {error or 'failed'} "
                             f"({result.phase_failed} phase; {_outcome(result)})",
                     info=(("bad-element", node),))
            for node, error in sorted(failed.items())] or [RpcError(
                tag=ErrorTag.OPERATION_FAILED, message="device push failed")])


def _outcome(result: CommitResult) -> str:
    stuck = sorted(n for n, o in result.devices.items()
                   if o.status == "failed" and "not put back" in (o.error or ""))
    if stuck:
        return f"every other device rolled back; {', '.join(stuck)} left out of sync"
    return "every device rolled back"
