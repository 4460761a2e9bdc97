"""Build the controller's schema, NMDA store and commit history from settings."""

from __future__ import annotations

from controller.datastore.history import CommitLog, RunningHistory
from controller.datastore.nmda import Expander, NmdaStore
from controller.datastore.persistence import Persistence
from controller.datastore.schema import Schema
from controller.settings import ControllerSettings


def build_schema(settings: ControllerSettings) -> Schema:
    return Schema(settings.modules)


def open_store(settings: ControllerSettings, *, expander: Expander | None = None,
               schema: Schema | None = None, defer_restart_revert: bool = False) -> NmdaStore:
    """`defer_restart_revert`: a confirmed commit left pending by the last run is reverted
    by the service layer's start-up recovery (ServiceManager.recover), not at opening."""
    ds = settings.datastore
    persistence = Persistence(ds.database, snapshot_every=ds.snapshot_every,
                              synchronous=ds.synchronous)
    return NmdaStore(schema or build_schema(settings), persistence=persistence,
                     expander=expander, boot_from_startup=ds.boot_from_startup,
                     defer_restart_revert=defer_restart_revert)


def open_history(settings: ControllerSettings, store: NmdaStore) -> RunningHistory:
    """Every change of running from now on, kept beside the datastores; every northbound
    serves this one history (the caller closes it after the servers stopped)."""
    return RunningHistory(store, CommitLog(settings.datastore.data_dir
                                           / "running-history.sqlite"))
