"""The protocol-adapter plugin API (in the spirit of NAPALM's driver interface).

A vendor plugs a device family in by shipping a `DeviceAdapter` subclass and declaring it
under the `sdqn.adapters` entry-point group:

    [project.entry-points."sdqn.adapters"]
    my-vendor = "my_package.adapter:MyVendorAdapter"

Configuration crosses this boundary as YANG-modelled XML (the device's own modules), so
the controller can diff and validate it with libyang whatever the wire protocol is. The
transaction semantics the network-wide commit needs are: stage into a candidate, validate,
commit with a confirmation timeout that reverts by itself (so a controller crash between
phases heals), confirm, cancel, discard. Adapters for devices that lack some of this
emulate it (see adapters/vendor_apc). `southbound.conformance` is the test suite that checks
an adapter against this contract; adapters/README.md says how to run it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from importlib.metadata import entry_points

from southbound.model import DeviceEndpoint

ENTRY_POINT_GROUP = "sdqn.adapters"
NotificationCallback = Callable[[str], None]


class AdapterError(Exception):
    """A device refused or failed an operation; `tag` is the RFC 6241 error-tag if known."""

    def __init__(self, message: str, *, tag: str | None = None, node_id: str | None = None
                 ) -> None:
        super().__init__(message)
        self.tag = tag
        self.node_id = node_id


class DeviceAdapter(ABC):
    """Driver for one device. Instances are used by one thread at a time (the pool
    serialises access per device)."""

    name: str = ""

    def __init__(self, endpoint: DeviceEndpoint, *, timeout: float = 30.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout

    # -- session -----------------------------------------------------------------------
    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @property
    @abstractmethod
    def connected(self) -> bool: ...

    @abstractmethod
    def capabilities(self) -> list[str]: ...

    def keepalive(self) -> None:
        """Prove the session is alive (default: a cheap read)."""
        self.get_config()

    # -- reads ---------------------------------------------------------------------------
    @abstractmethod
    def get_config(self, source: str = "running") -> str:
        """Config data elements (XML, no <data> wrapper) of `source`."""

    @abstractmethod
    def get_state(self) -> str:
        """Operational data elements (XML): config and state."""

    # -- the transaction ---------------------------------------------------------------
    @abstractmethod
    def lock(self) -> None: ...

    @abstractmethod
    def unlock(self) -> None: ...

    @abstractmethod
    def stage(self, config_xml: str, *, replace: bool = True) -> None:
        """Load config into the device's candidate (not yet active)."""

    @abstractmethod
    def validate(self) -> None: ...

    @abstractmethod
    def commit(self, *, confirm_timeout: float, persist: str) -> None:
        """Activate the candidate; it reverts by itself unless confirmed in time."""

    @abstractmethod
    def confirm(self, *, persist_id: str) -> None: ...

    @abstractmethod
    def cancel_commit(self, *, persist_id: str) -> None:
        """Revert a commit that was not confirmed yet (RFC 6241 §8.4.4.1 semantics)."""

    @abstractmethod
    def discard(self) -> None:
        """Drop whatever is staged in the candidate."""

    def prepare_change(self, config_xml: str, *, replace: bool,
                       locked: Callable[[], None]) -> str:
        """The prepare phase of a network commit on this device: lock the candidate (then
        call `locked`), read running (returned: what to put back), stage `config_xml`
        and validate it. Nothing is written before the lock is granted. Adapters whose
        protocol lets requests overlap override this (adapters/netconf pipelines them)."""
        self.lock()
        locked()
        before = self.get_config("running")
        if not replace:   # a replacing stage overwrites the whole candidate anyway
            self.discard()
        self.stage(config_xml, replace=replace)
        self.validate()
        return before

    def replace_running(self, config_xml: str) -> None:
        """Make running equal `config_xml` now (used by sync-to and compensation)."""
        self.stage(config_xml, replace=True)
        self.validate()
        token = f"replace-{id(self)}"
        self.commit(confirm_timeout=60, persist=token)
        self.confirm(persist_id=token)

    # -- actions ---------------------------------------------------------------------------
    def action(self, action_xml: str) -> str:
        """Invoke a YANG 1.1 action (RFC 7950 §7.15): `action_xml` is the data tree from
        the top node down to the action element with its input; returns the reply's
        output elements as XML. Adapters without actions refuse."""
        raise AdapterError(f"{self.endpoint.node_id}: this adapter has no actions",
                           tag="operation-not-supported", node_id=self.endpoint.node_id)

    # -- notifications -------------------------------------------------------------------
    @abstractmethod
    def subscribe(self, callback: NotificationCallback) -> None:
        """Deliver each notification (XML) to `callback` until close()."""


def load_adapters() -> dict[str, type[DeviceAdapter]]:
    """Adapter classes by name, from the `sdqn.adapters` entry points."""
    found: dict[str, type[DeviceAdapter]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, DeviceAdapter)):
            raise TypeError(f"entry point {ep.name!r} is not a DeviceAdapter: {cls!r}")
        found[ep.name] = cls
    return found
