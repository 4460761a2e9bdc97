"""Generic NETCONF device adapter on ncclient (with the wake-up transport).

Uses only standard NETCONF: :candidate, :validate, :confirmed-commit:1.1 with persist /
persist-id (so a commit survives the loss of our session and reverts by itself if the
controller dies before confirming), RFC 5277 notifications and, when the device
advertises NMDA (RFC 8526), <get-data> for operational state.

The prepare phase of a network commit pipelines its requests (RFC 6241 §4.5: the device
processes them in order and answers in order): the lock and the read of running go
together, and once the lock is granted the stage and the validate — two round trips
instead of four, and never a write before the lock.

An rpc that times out leaves the session in an unknown state: the device may still run
the request later (a busy device grants a lock nobody waits for any more). So the
adapter drops the session at once — closing the transport, not a <close-session> that
would queue behind the stuck request — and the device releases everything the session
held (RFC 6241 §7.5: a session's locks end with it; an unconfirmed commit without
<persist> reverts, §8.4.1). A device that has not ended that session yet (its thread is
still stuck in the request) may refuse an rpc of the next session because the dropped
one holds a lock: the adapter then ends it with <kill-session> (§7.9) and tries again.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from lxml import etree
from ncclient.operations import (
    CopyConfig,
    DiscardChanges,
    EditConfig,
    GetConfig,
    Lock,
    RPCError,
    Validate,
)
from ncclient.operations.errors import TimeoutExpiredError
from ncclient.transport.errors import AuthenticationError, TransportError

from southbound.adapter import AdapterError, DeviceAdapter, NotificationCallback
from southbound.model import DeviceEndpoint
from southbound.transport import connect

YANG_ACTION_NS = "urn:ietf:params:xml:ns:yang:1"

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
NMDA_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
NMDA_CAP = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
#: how many dropped session ids to remember (a device restart forgets them anyway)
ABANDONED_KEPT = 16


def _lock_holder(error: RPCError) -> str | None:
    """The session-id in a lock-denied or in-use error's <error-info> (RFC 6241 §7.5)."""
    info = error.info
    if not info:
        return None
    try:
        found = etree.fromstring(info.encode()).find(f".//{{{NC_NS}}}session-id")
    except etree.XMLSyntaxError:
        return None
    return found.text.strip() if found is not None and found.text else None


def _children_xml(element: Any) -> str:
    if element is None:
        return ""
    return "".join(etree.tostring(child, encoding="unicode") for child in element)


class NetconfAdapter(DeviceAdapter):
    name = "netconf"
    fast_transport = True  # False: stock ncclient session loop (benchmark comparison only)

    def __init__(self, endpoint: DeviceEndpoint, *, timeout: float = 30.0) -> None:
        super().__init__(endpoint, timeout=timeout)
        self._manager: Any = None
        self._subscriber: threading.Thread | None = None
        #: ids of our sessions dropped after a timeout: a lock they still hold is ours
        self.abandoned: collections.deque[str] = collections.deque(maxlen=ABANDONED_KEPT)

    # -- session -------------------------------------------------------------------------
    def open(self) -> None:
        ep = self.endpoint
        try:
            self._manager = connect(host=ep.address, port=ep.port, username=ep.username,
                                    password=ep.password, key_filename=ep.key_filename,
                                    timeout=self.timeout, fast=self.fast_transport)
        except AuthenticationError as exc:
            raise AdapterError(f"cannot connect to {ep.address}:{ep.port}: {exc}",
                               tag="access-denied", node_id=ep.node_id) from exc
        except Exception as exc:  # refused, timed out, no SSH: the device is unreachable
            raise AdapterError(f"cannot connect to {ep.address}:{ep.port}: {exc}",
                               tag="resource-denied", node_id=ep.node_id) from exc

    def close(self) -> None:
        manager, self._manager = self._manager, None
        if manager is not None:
            try:
                manager.close_session()
            except Exception:  # already gone: closing is best effort
                manager._session.close()

    def _end_abandoned(self, error: RPCError) -> bool:
        """A lock of one of our dropped sessions refused `error` (RFC 6241 §7.5
        lock-denied or in-use, naming the holder): end that session with <kill-session>
        (§7.9) — its locks go with it — and say so (the caller tries once more)."""
        holder = _lock_holder(error)
        if error.tag not in ("lock-denied", "in-use") or holder is None \
                or holder not in self.abandoned:
            return False
        self.abandoned.remove(holder)
        try:
            self._m().kill_session(holder)
        except RPCError as exc:        # gone meanwhile: its locks went with it
            if exc.tag != "invalid-value":
                raise
        return True

    def _drop(self) -> None:
        """Abandon the session without a word to the device (module docstring)."""
        manager, self._manager = self._manager, None
        if manager is None:
            return
        if manager.session_id is not None:
            self.abandoned.append(str(manager.session_id))
        with contextlib.suppress(Exception):  # already gone: dropping is best effort
            manager._session.close()

    @property
    def connected(self) -> bool:
        return self._manager is not None and bool(self._manager.connected)

    def capabilities(self) -> list[str]:
        return list(self._m().server_capabilities)

    def _m(self) -> Any:
        if self._manager is None or not self._manager.connected:
            raise AdapterError("not connected", tag="resource-denied",
                               node_id=self.endpoint.node_id)
        return self._manager

    def _call(self, what: str, fn: Any, *args: Any, retry: bool = True, **kwargs: Any) -> Any:
        try:
            try:
                return fn(*args, **kwargs)
            except RPCError as exc:
                if not retry or not self._end_abandoned(exc):
                    raise
                return fn(*args, **kwargs)
        except RPCError as exc:
            raise AdapterError(f"{what} refused: {exc.message or exc.tag}", tag=exc.tag,
                               node_id=self.endpoint.node_id) from exc
        except TimeoutExpiredError as exc:
            self._drop()
            raise AdapterError(f"{what} timed out after {self.timeout:g} s (session "
                               "dropped)", tag="operation-failed",
                               node_id=self.endpoint.node_id) from exc
        except (TransportError, OSError) as exc:
            raise AdapterError(f"{what}: session lost ({exc})", tag="resource-denied",
                               node_id=self.endpoint.node_id) from exc

    def keepalive(self) -> None:
        self._call("keepalive", self._m().get_config, source="running",
                   filter=("subtree", "<nothing xmlns='urn:sdqn:keepalive'/>"))

    # -- reads -----------------------------------------------------------------------------
    def get_config(self, source: str = "running") -> str:
        reply = self._call("get-config", self._m().get_config, source=source)
        return _children_xml(reply.data_ele)

    def get_state(self) -> str:
        m = self._m()
        if any(cap.startswith(NMDA_CAP) for cap in m.server_capabilities):
            rpc = etree.fromstring(
                f'<get-data xmlns="{NMDA_NS}" '
                f'xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
                f"<datastore>ds:operational</datastore></get-data>")
            reply = self._call("get-data", m.dispatch, rpc)
            data = reply.data_ele if reply.data_ele is not None else \
                reply._root.find(f".//{{{NMDA_NS}}}data")
            return _children_xml(data)
        reply = self._call("get", m.get)
        return _children_xml(reply.data_ele)

    # -- the transaction ---------------------------------------------------------------------
    def lock(self) -> None:
        self._call("lock candidate", self._m().lock, target="candidate")

    def unlock(self) -> None:
        self._call("unlock candidate", self._m().unlock, target="candidate")

    def stage(self, config_xml: str, *, replace: bool = True) -> None:
        config = f'<config xmlns="{NC_NS}">{config_xml}</config>'
        m = self._m()
        if replace:
            # copy-config replaces the candidate whole, including removing what is absent
            # (ncclient takes inline content as a whole <source> element).
            self._call("copy-config to candidate", m.copy_config,
                       source=f'<source xmlns="{NC_NS}">{config}</source>', target="candidate")
        else:
            self._call("edit-config candidate", m.edit_config, config=config,
                       target="candidate", default_operation="merge")

    def validate(self) -> None:
        self._call("validate candidate", self._m().validate, source="candidate")

    def prepare_change(self, config_xml: str, *, replace: bool,
                       locked: Callable[[], None]) -> str:
        """Lock + get-config, then [discard +] stage + validate, each batch pipelined
        (module docstring); errors as the one-by-one calls raise them."""
        lock = self._send(Lock, target="candidate")
        running = self._send(GetConfig, source="running")
        try:
            self._reply("lock candidate", lock)
        except AdapterError as exc:
            cause = exc.__cause__
            if not isinstance(cause, RPCError) or not self._end_abandoned(cause):
                raise
            self.lock()             # our dropped session held it: ended, so lock again
        locked()
        before = _children_xml(self._reply("get-config", running).data_ele)
        config = f'<config xmlns="{NC_NS}">{config_xml}</config>'
        steps = [] if replace else [("discard-changes", self._send(DiscardChanges))]
        if replace:
            steps.append(("copy-config to candidate", self._send(
                CopyConfig, source=f'<source xmlns="{NC_NS}">{config}</source>',
                target="candidate")))
        else:
            steps.append(("edit-config candidate", self._send(
                EditConfig, config=config, target="candidate", default_operation="merge")))
        steps.append(("validate candidate", self._send(Validate, source="candidate")))
        for what, rpc in steps:
            self._reply(what, rpc)
        return before

    def _send(self, op: type[Any], **kwargs: Any) -> Any:
        """Send one request without waiting for its reply (an ncclient asynchronous rpc)."""
        m = self._m()
        rpc = op(m._session, m._device_handler, async_mode=True, timeout=self.timeout,
                 raise_mode=m._raise_mode, huge_tree=m._huge_tree)
        try:
            rpc.request(**kwargs)
        except (TransportError, OSError) as exc:
            raise AdapterError(f"{op.__name__}: session lost ({exc})", tag="resource-denied",
                               node_id=self.endpoint.node_id) from exc
        return rpc

    def _reply(self, what: str, rpc: Any) -> Any:
        """Wait for a pipelined request's reply; errors as `_call` maps them."""
        def wait() -> Any:
            if not rpc.event.wait(self.timeout):
                raise TimeoutExpiredError(f"no reply to {what}")
            if rpc.error is not None:
                raise rpc.error
            reply = rpc.reply
            reply.parse()
            if reply.error is not None:
                raise reply.error
            return reply

        return self._call(what, wait, retry=False)

    def commit(self, *, confirm_timeout: float, persist: str) -> None:
        self._call("confirmed commit", self._m().commit, confirmed=True,
                   timeout=str(max(1, round(confirm_timeout))), persist=persist)

    def confirm(self, *, persist_id: str) -> None:
        self._call("confirming commit", self._m().commit, persist_id=persist_id)

    def cancel_commit(self, *, persist_id: str) -> None:
        self._call("cancel-commit", self._m().cancel_commit, persist_id=persist_id)

    def discard(self) -> None:
        self._call("discard-changes", self._m().discard_changes)

    # -- actions -------------------------------------------------------------------------------
    def action(self, action_xml: str) -> str:
        """RFC 7950 §7.15.2: <action xmlns="urn:ietf:params:xml:ns:yang:1"> around the
        data tree that leads to the action."""
        wrapper = etree.Element(f"{{{YANG_ACTION_NS}}}action", nsmap={None: YANG_ACTION_NS})
        wrapper.append(etree.fromstring(action_xml))
        reply = self._call("action", self._m().dispatch, wrapper)
        root = etree.fromstring(reply.xml.encode())
        return "".join(etree.tostring(child, encoding="unicode") for child in root
                       if etree.QName(child).localname not in ("ok",))

    # -- notifications -----------------------------------------------------------------------
    def subscribe(self, callback: NotificationCallback) -> None:
        m = self._m()
        self._call("create-subscription", m.create_subscription)

        def pump() -> None:
            while self._manager is m and m.connected:
                note = m.take_notification(block=True, timeout=0.5)
                if note is not None:
                    callback(note.notification_xml)

        self._subscriber = threading.Thread(target=pump, daemon=True,
                                            name=f"notify-{self.endpoint.node_id}")
        self._subscriber.start()
