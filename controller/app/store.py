"""Build the controller's schema, NMDA store and commit history from settings."""

from __future__ import annotations

from controller.datastore.commitlog import import_old_history
from controller.datastore.history import RunningHistory
from controller.datastore.nmda import Expander, NmdaStore
from controller.datastore.persistence import Persistence
from controller.datastore.schema import Schema
from controller.settings import ControllerSettings
from southbound.kinds import DEVICE_KINDS, TYPES_MODULE

#: where versions before the history moved into the datastores' file kept it
OLD_HISTORY_FILE = "running-history.sqlite"


def device_modules() -> tuple[str, ...]:
    """The managed devices' own modules, whose instance data intended carries in
    /sdqn-controller:controller/devices/device/configuration (with sdqn-types, whose
    identities their values use): mounted beside the controller's schema."""
    return (TYPES_MODULE, *dict.fromkeys(kind.module for kind in DEVICE_KINDS.values()))


def build_schema(settings: ControllerSettings) -> Schema:
    return Schema(settings.modules, mounted_modules=device_modules())


def open_store(settings: ControllerSettings, *, expander: Expander | None = None,
               schema: Schema | None = None, defer_restart_revert: bool = False) -> NmdaStore:
    """`defer_restart_revert`: a confirmed commit left pending by the last run is reverted
    by the service layer's start-up recovery (ServiceManager.recover), not at opening.

    The commit history lives in the datastores' file; one an earlier version kept beside
    it is imported first (before the store records anything at opening)."""
    ds = settings.datastore
    persistence = Persistence(ds.database, snapshot_every=ds.snapshot_every,
                              synchronous=ds.synchronous)
    import_old_history(persistence, ds.data_dir / OLD_HISTORY_FILE)
    return NmdaStore(schema or build_schema(settings), persistence=persistence,
                     expander=expander, boot_from_startup=ds.boot_from_startup,
                     defer_restart_revert=defer_restart_revert)


def open_history(settings: ControllerSettings, store: NmdaStore) -> RunningHistory:
    """The store's commit history (every change of running, kept in the datastores'
    file), as every northbound serves it (the caller closes it after the servers
    stopped)."""
    del settings   # the store's persistence decides where the history lives
    return RunningHistory(store)
