"""Wire the network-wide commit into the datastore transaction.

The store calls commit hooks after running is validated and intended is expanded and
validated, but before anything is persisted. This hook renders each affected device's
configuration from the new intended content and pushes it all-or-nothing; if any device
fails, it raises, and the store rolls running and intended back: devices, running and
intended change together or not at all (controller/README.md, "A commit is one transaction").

It is a two-phase hook: the devices get a confirmed commit (RFC 6241 §8.4, they revert by
themselves unless confirmed), *then* the store makes the change durable, *then* the
devices are confirmed. A controller killed before the store's write leaves devices that
revert (or that recovery cancels) and datastores that never changed; killed after it,
recovery confirms the devices' pending commit (southbound/inflight.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from controller.datastore.nmda import Datastore, NmdaStore, Transaction
from controller.errors import ErrorTag, NetconfError, RpcError
from southbound.commit import NetworkCommit
from southbound.model import CommitResult, DeviceChange

log = structlog.get_logger(__name__)

Renderer = Callable[[NmdaStore, Transaction], Sequence[DeviceChange]]


class DevicePushHook:
    two_phase = True

    def __init__(self, committer: NetworkCommit, render: Renderer) -> None:
        self.committer = committer
        self.render = render
        self.last_result: CommitResult | None = None

    def __call__(self, store: NmdaStore, txn: Transaction,
                 persist: Callable[[], None] | None = None) -> None:
        changes = list(self.render(store, txn))
        if not changes:
            return
        label = f"datastore commit (running v{store.versions[Datastore.RUNNING] + 1})"
        result = self.committer.apply(changes, label=label, before_confirm=persist)
        self.last_result = result
        if result.success:
            return
        failed = {n: o.error for n, o in result.devices.items() if o.status == "failed"}
        log.warning("device push failed; datastores unchanged", phase=result.phase_failed,
                    devices=failed)
        raise NetconfError([
            RpcError(tag=ErrorTag.OPERATION_FAILED,
                     message=f"device {node}: {error or 'failed'} "
                             f"({result.phase_failed} phase; every device rolled back)",
                     info=(("bad-element", node),))
            for node, error in sorted(failed.items())] or [RpcError(
                tag=ErrorTag.OPERATION_FAILED, message="device push failed")])
