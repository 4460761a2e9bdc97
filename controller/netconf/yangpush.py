"""Dynamic subscriptions (RFC 8639) and YANG-Push (RFC 8641) over NETCONF (RFC 8640).

A session establishes subscriptions with <establish-subscription>: to an event stream
(the RFC 5277 NETCONF stream and any other the server has), or to <operational>, pushed
periodically (push-update) or on change (push-change-update, a YANG Patch). Only dynamic
subscriptions exist: they live and die with their session (RFC 8639 §2.4); configured
subscriptions (§2.5) are not implemented and their features are off.

Why one worker thread per server for datastore subscriptions: a change of <operational>
only wakes it (the store calls `operational_watchers` under its lock, so nothing may be
done there), and the worker reads the published copy, compares it with what each
subscription last sent, at most once per dampening period. Pushes go out on the
session's own write path, so a receiver that stops reading is dropped after the send
timeout, exactly as for RFC 5277 events; no queue grows without bound.

NACM (RFC 8641 §5.1, RFC 8639 §5): pushed data is read the way <get> reads it, pruned for
the subscriber at every push, so a subscriber who loses access stops getting the data.
Stream events are checked with the notification rules, as for <create-subscription>.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import structlog
from lxml import etree

from controller.datastore.ly import lib
from controller.datastore.nmda import Datastore
from controller.datastore.tree import Forest, WithDefaults, node_path, print_nodes, term_value
from controller.errors import ErrorTag, NetconfError
from controller.netconf import views
from controller.netconf.contracts import NetconfSession
from controller.netconf.core import ServerCore, now_iso
from controller.netconf.filters import match_notification
from controller.netconf.nodes import children
from controller.netconf.notifications import Notifier, notification_message
from controller.netconf.paths import PathSyntaxError, parse_path, xpath_to_json
from controller.netconf.xml import DS_NS, text_of
from controller.netconf.xml import children as elements

log = structlog.get_logger(__name__)

SN = "ietf-subscribed-notifications"
YP = "ietf-yang-push"
SN_NS = "urn:ietf:params:xml:ns:yang:ietf-subscribed-notifications"
YP_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-push"
PATCH_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-patch"
#: server state composed per read rather than kept in the store: no change hook sees it,
#: so on-change to it is refused (RFC 8641 §3.10) rather than silently never firing
UNWATCHED_MODULES = ("ietf-yang-library", "ietf-netconf-monitoring", SN)
CHANGE_KINDS = frozenset({"create", "delete", "insert", "move", "replace"})
_MAX_WAIT_S = 1.0


@dataclass(frozen=True)
class PushLimits:
    """Bounds on what subscribers may ask (RFC 8639 §2.4.2: insufficient-resources)."""

    per_session: int = 8
    total: int = 64
    #: the smallest period in centiseconds (RFC 8641 §3.1: refused with period-unsupported)
    min_period_cs: int = 100


def refusal(reason: str, message: str, *, module: str = SN,
            tag: ErrorTag = ErrorTag.INVALID_VALUE) -> NetconfError:
    """RFC 8640 §2.3-2.4: the rpc-error's error-app-tag is the identity naming why."""
    return NetconfError.of(tag, message, app_tag=f"{module}:{reason}")


@dataclass(eq=False)
class Dynamic:
    """One dynamic subscription (RFC 8639 §2.4) of one session."""

    id: int
    session: NetconfSession
    stream: str | None = None
    event_filter: Callable[[etree._Element], bool] | None = None
    stream_xpath: str | None = None
    xpaths: list[str] | None = None
    datastore_xpath: str | None = None
    period_cs: int | None = None
    anchor: datetime | None = None
    on_change: bool = False
    dampening_cs: int = 0
    sync_on_start: bool = True
    excluded: frozenset[str] = frozenset()
    stop: datetime | None = None
    live_from: int = 0
    sent: int = 0
    excluded_records: int = 0
    snapshot: dict[str, tuple[str, str | None]] | None = None
    due: float = 0.0
    dirty: bool = False
    patches: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    active: bool = True
    resync: bool = False


class PushSubscriptions:
    """The dynamic subscriptions of one NETCONF server, their rpcs and their worker."""

    def __init__(self, core: ServerCore, notifier: Notifier,
                 limits: PushLimits | None = None) -> None:
        self.core = core
        self.notifier = notifier
        self.limits = limits or PushLimits()
        self._subs: dict[int, Dynamic] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._kick = threading.Event()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        notifier.taps.append(self)
        core.store.operational_watchers.append(self._on_operational)
        core.state_providers[SN] = self.state

    @staticmethod
    def available(core: ServerCore) -> bool:
        """Both modules in the store's schema (devices' servers may lack them)."""
        return core.namespace_of(SN) is not None and core.namespace_of(YP) is not None

    def handlers(self) -> dict[tuple[str, str], Callable[[NetconfSession, etree._Element],
                                                         bytes]]:
        return {(SN_NS, "establish-subscription"): self._explained(self.establish),
                (SN_NS, "modify-subscription"): self._explained(self.modify),
                (SN_NS, "delete-subscription"): self._explained(self.delete),
                (SN_NS, "kill-subscription"): self._explained(self.kill),
                (YP_NS, "resync-subscription"): self._explained(self.resync)}

    def _explained(self, handler: Callable[[NetconfSession, etree._Element], bytes]
                   ) -> Callable[[NetconfSession, etree._Element], bytes]:
        """A refusal also names its reason in the rpc's error-info structure (RFC 8639
        §2.4.6, RFC 8641 §4.4, carried in <error-info> by RFC 8640 §2.4)."""
        def run(session: NetconfSession, op: etree._Element) -> bytes:
            try:
                return handler(session, op)
            except NetconfError as err:
                first = err.first
                if first.app_tag is None or first.info_xml is not None:
                    raise
                module, _, _ = first.app_tag.partition(":")
                if module not in (SN, YP):
                    raise
                ns, name = self._error_info(op)
                info = etree.Element(f"{{{ns}}}{name}", nsmap={None: ns})
                info.append(_leaf(ns, "reason", first.app_tag, sn=module == SN,
                                  yp=module == YP))
                raise NetconfError([replace(first, info_xml=etree.tostring(info)),
                                    *err.errors[1:]]) from None
        return run

    def _error_info(self, op: etree._Element) -> tuple[str, str]:
        """The error-info structure of the rpc `op` for its kind of subscription."""
        rpc = etree.QName(op).localname
        if rpc == "resync-subscription":
            return YP_NS, "resync-subscription-error"
        if rpc in ("delete-subscription", "kill-subscription"):
            return SN_NS, "delete-subscription-error-info"
        datastore = op.find(f"{{{YP_NS}}}datastore") is not None
        if rpc == "modify-subscription":
            found = op.findtext(f"{{{SN_NS}}}id") or ""
            with self._lock:
                sub = self._subs.get(int(found)) if found.isdigit() else None
            datastore = sub is not None and sub.stream is None
        if datastore:
            return YP_NS, f"{rpc}-datastore-error-info"
        return SN_NS, f"{rpc}-stream-error-info"

    def stop(self) -> None:
        self._stopping.set()
        self._kick.set()
        if self._on_operational in self.core.store.operational_watchers:
            self.core.store.operational_watchers.remove(self._on_operational)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def guard_create(self, create: Callable[[NetconfSession, etree._Element], bytes]
                     ) -> Callable[[NetconfSession, etree._Element], bytes]:
        """<create-subscription> refused on a session with dynamic subscriptions (RFC
        8640 §3: operation-not-supported)."""
        def guarded(session: NetconfSession, op: etree._Element) -> bytes:
            if self.holds(session):
                raise NetconfError.of(ErrorTag.OPERATION_NOT_SUPPORTED, "this session has "
                                      "dynamic subscriptions (RFC 8639)")
            return create(session, op)
        return guarded

    def holds(self, session: NetconfSession) -> bool:
        """Whether `session` has a dynamic subscription (RFC 8640 §3: then it may not
        <create-subscription>)."""
        with self._lock:
            return any(s.session is session for s in self._subs.values())

    # -- rpcs (RFC 8639 §2.4) ----------------------------------------------------------------

    def establish(self, session: NetconfSession, op: etree._Element) -> bytes:
        if session.subscription is not None:
            # RFC 8640 §3: one session never mixes RFC 5277 and RFC 8639 subscriptions.
            raise NetconfError.of(ErrorTag.OPERATION_NOT_SUPPORTED,
                                  "this session has an RFC 5277 subscription")
        args = _Args(op)
        sub = Dynamic(id=0, session=session)
        stream, datastore = args.text(SN_NS, "stream"), args.get(YP_NS, "datastore")
        if stream is None and datastore is None:
            raise NetconfError.of(ErrorTag.MISSING_ELEMENT, "give a target: <stream> or "
                                  "<datastore>", info=(("bad-element", "target"),))
        if stream is not None and datastore is not None:
            raise NetconfError.of(ErrorTag.INVALID_VALUE, "<stream> and <datastore> exclude "
                                  "each other", info=(("bad-element", "datastore"),))
        sub.stop = _time(args, "stop-time")
        if sub.stop is not None and sub.stop <= datetime.now(UTC):
            raise NetconfError.of(ErrorTag.INVALID_VALUE, "stop-time is in the past")
        start: datetime | None = None
        if stream is not None:
            if stream not in self.core.streams:
                raise refusal("stream-unavailable", f"no event stream {stream!r}")
            sub.stream = stream
            self._stream_filter(sub, args)
            start = _time(args, "replay-start-time")
            if start is not None and not self.notifier.replay:
                raise refusal("replay-unsupported", "this server keeps no replay log")
        else:
            assert datastore is not None
            if _identity(datastore, DS_NS) != "operational":
                # RFC 8641 §3.1: only <operational> is subscribable here
                raise refusal("datastore-not-subscribable", "only ds:operational may be "
                              "subscribed to", module=YP)
            self._selection(sub, args)
            self._trigger(sub, args)
        encoding = args.text(SN_NS, "encoding")
        if encoding is not None and encoding.rpartition(":")[2] != "encode-xml":
            raise refusal("encoding-unsupported", "NETCONF carries encode-xml only")
        if sub.stream is None:
            self._first_read(sub)   # a bad selection fails here, before anything exists
            sub.dirty = sub.on_change   # a change while it is being registered counts
        self._current()   # subscriptions of ended sessions no longer count
        with self._lock:
            mine = sum(1 for s in self._subs.values() if s.session is session)
            if mine >= self.limits.per_session or len(self._subs) >= self.limits.total:
                raise refusal("insufficient-resources", "too many subscriptions",
                              tag=ErrorTag.RESOURCE_DENIED)
            sub.id = next(self._ids)
            self._subs[sub.id] = sub
        if sub.stream is not None:
            self.notifier.attach(sub.stream, start, lambda seq: setattr(sub, "live_from", seq),
                                 lambda logged: self._replay(sub, logged))
        else:
            sub.due = time.monotonic() + self._first_delay(sub)
            self._start_worker()
        if sub.stop is not None:
            self._start_worker()
        log.info("dynamic subscription established", server=self.core.name, id=sub.id,
                 session=session.session_id, stream=sub.stream)
        return f'<id xmlns="{SN_NS}">{sub.id}</id>'.encode()

    def modify(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 8639 §2.4.3 / RFC 8641 §4.4.2: new filter, stop-time or period of one's
        own subscription; a subscription-modified notification follows the reply."""
        args = _Args(op)
        sub = self._own(session, args)
        changed = Dynamic(id=sub.id, session=session, stream=sub.stream,
                          event_filter=sub.event_filter, stream_xpath=sub.stream_xpath,
                          xpaths=sub.xpaths, datastore_xpath=sub.datastore_xpath,
                          period_cs=sub.period_cs, anchor=sub.anchor, on_change=sub.on_change,
                          dampening_cs=sub.dampening_cs, sync_on_start=sub.sync_on_start,
                          excluded=sub.excluded, stop=sub.stop)
        if args.has(SN_NS, "stop-time"):
            changed.stop = _time(args, "stop-time")
        if sub.stream is not None:
            self._stream_filter(changed, args, keep=True)
        else:
            self._selection(changed, args, keep=True)
            self._trigger(changed, args, modify=True)
            self._first_read(changed)
        with self._lock:
            sub.event_filter, sub.stream_xpath = changed.event_filter, changed.stream_xpath
            sub.xpaths, sub.datastore_xpath = changed.xpaths, changed.datastore_xpath
            sub.period_cs, sub.anchor = changed.period_cs, changed.anchor
            sub.dampening_cs, sub.stop = changed.dampening_cs, changed.stop
            sub.sync_on_start, sub.excluded = changed.sync_on_start, changed.excluded
            if changed.snapshot is not None:
                sub.snapshot = changed.snapshot
            if sub.stream is None:
                sub.due = time.monotonic() + self._first_delay(sub)
        self._kick.set()
        self._later(lambda: self._lifecycle(sub, "subscription-modified", self._policy(sub)))
        return b"<ok/>"

    def delete(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 8639 §2.4.4: one's own subscription only; the reply confirms it, no
        subscription-terminated follows."""
        sub = self._own(session, _Args(op))
        self._remove(sub)
        return b"<ok/>"

    def kill(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 8639 §2.4.5: any session's subscription (NACM default-deny-all); its
        receiver gets subscription-terminated."""
        sub_id = _id(_Args(op))
        with self._lock:
            sub = self._subs.get(sub_id)
        if sub is None:
            raise refusal("no-such-subscription", f"no dynamic subscription {sub_id}")
        self._remove(sub)
        self._lifecycle(sub, "subscription-terminated",
                        [_leaf(SN_NS, "reason", f"{SN}:no-such-subscription", sn=True)],
                        force=True)
        return b"<ok/>"

    def resync(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 8641 §4.4.3: the next push of an on-change subscription is a full
        push-update, after which change updates continue from it."""
        args = _Args(op, YP_NS)
        sub_id = _id(args, YP_NS)
        with self._lock:
            sub = self._subs.get(sub_id)
        if sub is None or sub.session is not session or not sub.on_change:
            raise refusal("no-such-subscription-resync", f"no on-change subscription "
                          f"{sub_id} of this session", module=YP)
        sub.resync = True
        self._kick.set()
        return b"<ok/>"

    # -- parameters --------------------------------------------------------------------------

    def _own(self, session: NetconfSession, args: _Args) -> Dynamic:
        sub_id = _id(args)
        with self._lock:
            sub = self._subs.get(sub_id)
        if sub is None or sub.session is not session:
            # RFC 8639 §2.4.4: another session's subscription is "no such" for this one
            raise refusal("no-such-subscription", f"no subscription {sub_id} of this session")
        return sub

    def _stream_filter(self, sub: Dynamic, args: _Args, *, keep: bool = False) -> None:
        if args.has(SN_NS, "stream-filter-name"):
            raise refusal("filter-unavailable", "no stream filters are configured")
        subtree, xpath = args.get(SN_NS, "stream-subtree-filter"), \
            args.get(SN_NS, "stream-xpath-filter")
        if subtree is not None and xpath is not None:
            raise refusal("filter-unsupported", "give one stream filter")
        if subtree is not None:
            sub.event_filter, sub.stream_xpath = (lambda c: match_notification(subtree, c)), None
        elif xpath is not None:
            try:
                compiled = etree.XPath(text_of(xpath),
                                       namespaces={k: v for k, v in xpath.nsmap.items() if k})
            except etree.XPathError as exc:
                raise refusal("filter-unsupported", f"invalid XPath: {exc}") from None
            sub.event_filter = lambda c: bool(compiled(c))
            try:   # kept with module names as prefixes (RFC 7951 §6.11), for the state
                sub.stream_xpath = xpath_to_json(text_of(xpath), xpath.nsmap,
                                                 self.core.index.by_namespace)
            except (KeyError, ValueError):
                sub.stream_xpath = None
        elif not keep:
            sub.event_filter = sub.stream_xpath = None

    def _selection(self, sub: Dynamic, args: _Args, *, keep: bool = False) -> None:
        """RFC 8641 §3.6 selection filter, as the XPaths a <get> would read."""
        if args.has(YP_NS, "selection-filter-ref"):
            raise refusal("filter-unavailable", "no selection filters are configured")
        subtree, xpath = args.get(YP_NS, "datastore-subtree-filter"), \
            args.get(YP_NS, "datastore-xpath-filter")
        if subtree is not None and xpath is not None:
            raise refusal("filter-unsupported", "give one selection filter")
        if subtree is not None:
            try:
                sub.xpaths = self.core.compiler.compile(subtree)
            except NetconfError as err:
                raise refusal("filter-unsupported", err.first.message) from None
            sub.datastore_xpath = " | ".join(sub.xpaths)
        elif xpath is not None:
            try:
                sub.xpaths = [xpath_to_json(text_of(xpath), xpath.nsmap,
                                            self.core.index.by_namespace)]
            except (KeyError, ValueError) as exc:
                raise refusal("filter-unsupported", f"bad XPath: {exc}") from None
            sub.datastore_xpath = sub.xpaths[0]
        elif not keep:
            sub.xpaths = sub.datastore_xpath = None

    def _trigger(self, sub: Dynamic, args: _Args, *, modify: bool = False) -> None:
        """RFC 8641 §4.4.1 update-trigger: periodic (period in centiseconds, anchor-time)
        or on-change (dampening-period, sync-on-start, excluded-change)."""
        periodic, on_change = args.get(YP_NS, "periodic"), args.get(YP_NS, "on-change")
        if periodic is not None and on_change is not None:
            raise NetconfError.of(ErrorTag.INVALID_VALUE, "periodic and on-change exclude "
                                  "each other", info=(("bad-element", "on-change"),))
        if periodic is None and on_change is None:
            if modify:
                return
            raise NetconfError.of(ErrorTag.MISSING_ELEMENT, "a datastore subscription needs "
                                  "<periodic> or <on-change>", info=(("bad-element",
                                                                      "update-trigger"),))
        if periodic is not None:
            if modify and sub.on_change:
                raise refusal("period-unsupported", "an on-change subscription stays "
                              "on-change", module=YP)
            period = _number(periodic, "period", None if modify else 0)
            if period is not None:
                if period < self.limits.min_period_cs:
                    raise refusal("period-unsupported", f"period must be at least "
                                  f"{self.limits.min_period_cs} centiseconds", module=YP)
                sub.period_cs = period
            anchor = periodic.find(f"{{{YP_NS}}}anchor-time")
            if anchor is not None:
                sub.anchor = _parse_time(text_of(anchor), "anchor-time")
            return
        assert on_change is not None
        if modify and not sub.on_change:
            raise refusal("on-change-unsupported", "a periodic subscription stays periodic",
                          module=YP)
        watched = " ".join(sub.xpaths) if sub.xpaths is not None else ""
        if sub.xpaths is None or any(m in watched for m in UNWATCHED_MODULES):
            # RFC 8641 §3.10: data no change hook sees cannot be pushed on change
            raise refusal("on-change-unsupported", "on-change needs a selection of store "
                          "data (not the YANG library, monitoring or subscription state)",
                          module=YP)
        sub.on_change = True
        damp = _number(on_change, "dampening-period", sub.dampening_cs)
        sub.dampening_cs = damp if damp is not None else 0
        sync = on_change.find(f"{{{YP_NS}}}sync-on-start")
        if sync is not None:
            if text_of(sync) not in ("true", "false"):
                raise NetconfError.of(ErrorTag.INVALID_VALUE, "sync-on-start is a boolean")
            sub.sync_on_start = text_of(sync) == "true"
        kinds = [text_of(e) for e in on_change.iterfind(f"{{{YP_NS}}}excluded-change")]
        if any(k not in CHANGE_KINDS for k in kinds):
            raise refusal("cant-exclude", f"excluded-change is one of {sorted(CHANGE_KINDS)}",
                          module=YP)
        sub.excluded = frozenset(kinds)

    def _first_read(self, sub: Dynamic) -> None:
        """Read the selection once: a filter libyang rejects is refused now, and an
        on-change subscription gets its baseline."""
        try:
            forest = self._read(sub)
        except NetconfError as err:
            raise refusal("filter-unsupported", err.first.message) from None
        try:
            if sub.on_change:
                sub.snapshot = _flatten(forest)
        finally:
            forest.free()

    def _first_delay(self, sub: Dynamic) -> float:
        """Seconds to the first periodic push: at the next anchor-aligned instant
        (RFC 8641 §3.1), else right away; an on-change one starts with its sync or first change."""
        if sub.period_cs is None or sub.anchor is None:
            return 0.0
        period = sub.period_cs / 100
        since = (datetime.now(UTC) - sub.anchor).total_seconds()
        return (-since) % period

    # -- delivery ------------------------------------------------------------------------------

    def wants(self, stream: str) -> bool:
        with self._lock:
            return any(s.stream == stream for s in self._subs.values())

    def deliver(self, stream: str, content: etree._Element, message: bytes, seq: int) -> None:
        """An event of `stream`, in the dispatcher thread (RFC 8639 §2.6)."""
        with self._lock:
            subs = [s for s in self._subs.values() if s.stream == stream and seq >= s.live_from]
        for sub in subs:
            self._send_event(sub, content, message)

    def _replay(self, sub: Dynamic, logged: list[tuple[str, etree._Element]]) -> None:
        """RFC 8639 §2.4.2.1: the logged events, then replay-completed."""
        for stamp, content in logged:
            self._send_event(sub, content, notification_message(stamp, content))
        self._lifecycle(sub, "replay-completed", [])

    def _send_event(self, sub: Dynamic, content: etree._Element, message: bytes) -> None:
        if not sub.active:
            return
        if sub.stop is not None and datetime.now(UTC) > sub.stop:
            return
        if (sub.event_filter is not None and not sub.event_filter(content)) \
                or not self._notification_allowed(sub, content):
            sub.excluded_records += 1
            return
        sub.session.send_notification(message)
        sub.sent += 1

    def _notification_allowed(self, sub: Dynamic, content: etree._Element) -> bool:
        access = self.core.access(sub.session.username)
        name = etree.QName(content)
        return access is None or access.notification_allowed(
            self.core.module_of(name.namespace) or "", name.localname)

    def _lifecycle(self, sub: Dynamic, name: str, extra: list[etree._Element], *,
                   force: bool = False) -> None:
        """RFC 8639 §2.7 subscription state change notifications (never filtered)."""
        if not sub.active and not force:
            return
        note = etree.Element(f"{{{SN_NS}}}{name}", nsmap={None: SN_NS})
        etree.SubElement(note, f"{{{SN_NS}}}id").text = str(sub.id)
        note.extend(extra)
        sub.session.send_notification(notification_message(now_iso(), note))

    def _policy(self, sub: Dynamic) -> list[etree._Element]:
        """The subscription's parameters as subscription-modified carries them (§2.7.2)."""
        out: list[etree._Element] = []
        if sub.stream is not None:
            if sub.stream_xpath is not None:
                out.append(self._xpath_leaf(SN_NS, "stream-xpath-filter", sub.stream_xpath))
            out.append(_leaf(SN_NS, "stream", sub.stream))
        else:
            out.append(_leaf(YP_NS, "datastore", "ds:operational", ds=True))
            if sub.datastore_xpath is not None:
                out.append(self._xpath_leaf(YP_NS, "datastore-xpath-filter",
                                            sub.datastore_xpath))
        if sub.stop is not None:
            out.append(_leaf(SN_NS, "stop-time", _stamp(sub.stop)))
        if sub.period_cs is not None:
            periodic = etree.Element(f"{{{YP_NS}}}periodic", nsmap={None: YP_NS})
            periodic.append(_leaf(YP_NS, "period", str(sub.period_cs)))
            out.append(periodic)
        elif sub.on_change:
            change = etree.Element(f"{{{YP_NS}}}on-change", nsmap={None: YP_NS})
            change.append(_leaf(YP_NS, "dampening-period", str(sub.dampening_cs)))
            out.append(change)
        return out

    def _xpath_leaf(self, ns: str, name: str, xpath: str) -> etree._Element:
        """An XPath kept with module names as prefixes, in XML: each module name is
        declared as the prefix of its namespace (RFC 7950 §9.13.1 xpath1.0 in XML)."""
        nsmap: dict[str | None, str] = {None: ns}
        nsmap.update((module, namespace) for namespace, module in
                     self.core.index.by_namespace.items() if f"{module}:" in xpath)
        wrapper = etree.Element(f"{{{ns}}}{name}", nsmap=nsmap)
        wrapper.text = xpath
        return wrapper

    def _remove(self, sub: Dynamic) -> None:
        with self._lock:
            self._subs.pop(sub.id, None)
            sub.active = False

    def _later(self, run: Callable[[], None]) -> None:
        """Run after the rpc's reply is written: through the worker, a moment later."""
        timer = threading.Timer(0.05, run)
        timer.daemon = True
        timer.start()

    # -- the worker (periodic and on-change pushes, stop-time) ---------------------------------

    def _on_operational(self) -> None:
        self._changed.set()
        self._kick.set()

    def _start_worker(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"netconf-push-{self.core.name}")
                self._thread.start()
        self._kick.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._kick.clear()
            changed = self._changed.is_set()
            self._changed.clear()
            wait = _MAX_WAIT_S
            for sub in self._current():
                try:
                    wait = min(wait, self._step(sub, changed))
                except Exception:  # one subscription's failure must not stop the others
                    log.exception("push failed", server=self.core.name, id=sub.id)
            self._kick.wait(max(0.01, wait))

    def _current(self) -> list[Dynamic]:
        """The live subscriptions; those of ended sessions are dropped (RFC 8639 §2.4:
        a dynamic subscription ends with its transport session)."""
        with self._lock:
            for sub in list(self._subs.values()):
                if self.core.session(sub.session.session_id) is None:
                    self._subs.pop(sub.id, None)
                    sub.active = False
            return list(self._subs.values())

    def _step(self, sub: Dynamic, changed: bool) -> float:
        """Do what is due for `sub`; seconds until it next needs the worker."""
        if sub.stop is not None and datetime.now(UTC) >= sub.stop:
            self._remove(sub)   # RFC 8639 §2.7.5: subscription-completed at stop-time
            self._lifecycle(sub, "subscription-completed", [], force=True)
            return _MAX_WAIT_S
        stop_in = ((sub.stop - datetime.now(UTC)).total_seconds() if sub.stop is not None
                   else _MAX_WAIT_S)
        if sub.stream is not None:
            return stop_in
        now = time.monotonic()
        if sub.on_change:
            sub.dirty |= changed
            if now < sub.due:
                return min(stop_in, sub.due - now)
            if sub.resync or (sub.sync_on_start and not sub.sent):
                sub.resync = sub.dirty = False
                self._push_update(sub)
                sub.due = now + sub.dampening_cs / 100
            elif sub.dirty:
                sub.dirty = False
                self._push_change(sub)
                sub.due = now + sub.dampening_cs / 100
            return stop_in
        assert sub.period_cs is not None
        if now >= sub.due:
            self._push_update(sub)
            sub.due = max(sub.due + sub.period_cs / 100, now)
        return min(stop_in, sub.due - now)

    def _read(self, sub: Dynamic) -> Forest:
        return self.core.read(Datastore.OPERATIONAL, sub.xpaths, username=sub.session.username)

    def _push_update(self, sub: Dynamic) -> None:
        """RFC 8641 §3.7 push-update: the whole selection, as <get> would return it."""
        forest = self._read(sub)
        try:
            body = views.print_xml(forest, WithDefaults.EXPLICIT, keep_empty=False)
            if sub.on_change:
                sub.snapshot = _flatten(forest)
        finally:
            forest.free()
        note = etree.Element(f"{{{YP_NS}}}push-update", nsmap={None: YP_NS})
        etree.SubElement(note, f"{{{YP_NS}}}id").text = str(sub.id)
        contents = etree.SubElement(note, f"{{{YP_NS}}}datastore-contents")
        if body:
            contents.extend(etree.fromstring(b"<x>" + body + b"</x>"))
        self._send(sub, note)

    def _push_change(self, sub: Dynamic) -> None:
        """RFC 8641 §3.7 push-change-update: a YANG Patch (RFC 8072) with one edit per
        node created, replaced or deleted since the last push."""
        forest = self._read(sub)
        try:
            now = _flatten(forest)
            edits = _changes(sub.snapshot or {}, now, forest, sub.excluded)
        finally:
            forest.free()
        sub.snapshot = now
        if not edits:
            return
        note = etree.Element(f"{{{YP_NS}}}push-change-update", nsmap={None: YP_NS})
        etree.SubElement(note, f"{{{YP_NS}}}id").text = str(sub.id)
        patch = etree.SubElement(etree.SubElement(note, f"{{{YP_NS}}}datastore-changes"),
                                 f"{{{PATCH_NS}}}yang-patch", nsmap={None: PATCH_NS})
        etree.SubElement(patch, f"{{{PATCH_NS}}}patch-id").text = f"s{sub.id}-{next(sub.patches)}"
        for number, (operation, target, value) in enumerate(edits, 1):
            edit = etree.SubElement(patch, f"{{{PATCH_NS}}}edit")
            etree.SubElement(edit, f"{{{PATCH_NS}}}edit-id").text = f"edit{number}"
            etree.SubElement(edit, f"{{{PATCH_NS}}}operation").text = operation
            etree.SubElement(edit, f"{{{PATCH_NS}}}target").text = target
            if value is not None:
                etree.SubElement(edit, f"{{{PATCH_NS}}}value").append(value)
        self._send(sub, note)

    def _send(self, sub: Dynamic, note: etree._Element) -> None:
        if sub.active:
            sub.session.send_notification(notification_message(now_iso(), note))
            sub.sent += 1

    # -- state (RFC 8639 §3.1, §3.3) --------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        streams = []
        for name in sorted(self.core.streams):
            entry: dict[str, Any] = {"name": name, "description": (
                "RFC 5277 default stream: RFC 6470 events and the server's notifications"
                if name == "NETCONF" else f"event stream {name}")}
            if self.notifier.replay:
                entry["replay-support"] = [None]
                entry["replay-log-creation-time"] = self.notifier.log_created
                aged = self.notifier.replay_log_aged()
                if aged is not None:
                    entry["replay-log-aged-time"] = aged
            streams.append(entry)
        subscriptions = [self._subscription_state(s) for s in self._current()]
        state: dict[str, Any] = {f"{SN}:streams": {"stream": streams}}
        if subscriptions:
            state[f"{SN}:subscriptions"] = {"subscription": subscriptions}
        return state

    def _subscription_state(self, sub: Dynamic) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": sub.id, "encoding": f"{SN}:encode-xml"}
        if sub.stream is not None:
            entry["stream"] = sub.stream
            if sub.stream_xpath is not None:
                entry["stream-xpath-filter"] = sub.stream_xpath
        else:
            entry[f"{YP}:datastore"] = "ietf-datastores:operational"
            if sub.datastore_xpath is not None:
                entry[f"{YP}:datastore-xpath-filter"] = sub.datastore_xpath
            if sub.period_cs is not None:
                entry[f"{YP}:periodic"] = {"period": sub.period_cs}
            else:
                entry[f"{YP}:on-change"] = {"dampening-period": sub.dampening_cs,
                                            "sync-on-start": sub.sync_on_start}
        if sub.stop is not None:
            entry["stop-time"] = _stamp(sub.stop)
        # RFC 8640 §2: a dynamic subscription's one receiver is its NETCONF session
        entry["receivers"] = {"receiver": [{
            "name": f"netconf-session-{sub.session.session_id}",
            "sent-event-records": str(sub.sent),
            "excluded-event-records": str(sub.excluded_records), "state": "active"}]}
        return entry


# -- helpers ----------------------------------------------------------------------------------


class _Args:
    """The input of one subscription rpc, by (namespace, name) anywhere in the input's
    top level (choices and augments put leaves of both modules side by side)."""

    def __init__(self, op: etree._Element, *namespaces: str) -> None:
        self.items: dict[tuple[str, str], etree._Element] = {}
        for child in elements(op):
            name = etree.QName(child)
            if name.namespace not in (namespaces or (SN_NS, YP_NS)):
                raise NetconfError.of(ErrorTag.UNKNOWN_ELEMENT,
                                      f"unexpected element <{name.localname}>",
                                      info=(("bad-element", name.localname),))
            self.items[(name.namespace, name.localname)] = child

    def get(self, ns: str, name: str) -> etree._Element | None:
        return self.items.get((ns, name))

    def has(self, ns: str, name: str) -> bool:
        return (ns, name) in self.items

    def text(self, ns: str, name: str) -> str | None:
        el = self.get(ns, name)
        return text_of(el) if el is not None else None


def _id(args: _Args, namespace: str = SN_NS) -> int:
    text = args.text(namespace, "id")
    if text is None:
        raise NetconfError.of(ErrorTag.MISSING_ELEMENT, "<id> is mandatory",
                              info=(("bad-element", "id"),))
    if not text.isdigit():
        raise NetconfError.of(ErrorTag.INVALID_VALUE, f"invalid id {text!r}",
                              info=(("bad-element", "id"),))
    return int(text)


def _number(parent: etree._Element, name: str, default: int | None) -> int | None:
    el = parent.find(f"{{{YP_NS}}}{name}")
    if el is None:
        if default == 0 and name == "period":
            raise NetconfError.of(ErrorTag.MISSING_ELEMENT, "<periodic> needs <period>",
                                  info=(("bad-element", "period"),))
        return default
    text = text_of(el)
    if not text.isdigit() or int(text) > 0xFFFFFFFF:
        raise NetconfError.of(ErrorTag.INVALID_VALUE, f"{name} is a uint32 of centiseconds",
                              info=(("bad-element", name),))
    return int(text)


def _identity(el: etree._Element, namespace: str) -> str:
    prefix, sep, local = text_of(el).rpartition(":")
    ns = el.nsmap.get(prefix or None) if sep else None
    if ns != namespace and not (sep and prefix == "ietf-datastores"):
        raise refusal("datastore-not-subscribable", f"unknown datastore {text_of(el)!r}",
                      module=YP)
    return local


def _time(args: _Args, name: str) -> datetime | None:
    text = args.text(SN_NS, name)
    return _parse_time(text, name) if text is not None else None


def _parse_time(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise NetconfError.of(ErrorTag.INVALID_VALUE, f"{name} is not an RFC 3339 "
                              f"date-and-time: {text!r}", info=(("bad-element", name),))
    return value


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _leaf(ns: str, name: str, text: str, *, sn: bool = False, ds: bool = False,
          yp: bool = False) -> etree._Element:
    nsmap: dict[str | None, str] = {None: ns}
    if sn:
        nsmap[SN] = SN_NS
    if yp:
        nsmap[YP] = YP_NS
    if ds:
        nsmap["ds"] = DS_NS
    el = etree.Element(f"{{{ns}}}{name}", nsmap=nsmap)
    el.text = text
    return el


def _flatten(forest: Forest) -> dict[str, tuple[str, str | None]]:
    """Every data node of `forest` by its path: (kind, value), the value of terminal
    nodes only. Two of these say what was created, replaced or deleted."""
    flat: dict[str, tuple[str, str | None]] = {}
    stack = list(forest.tops())
    while stack:
        node = stack.pop()
        inner = list(children(node))
        flat[node_path(node)] = ("inner", None) if inner or _is_inner(node) \
            else ("leaf", term_value(node))
        stack.extend(inner)
    return flat


def _is_inner(node: Any) -> bool:
    return bool(node.schema.nodetype & (lib.LYS_CONTAINER | lib.LYS_LIST))


def _changes(old: dict[str, tuple[str, str | None]], new: dict[str, tuple[str, str | None]],
             forest: Forest, excluded: frozenset[str]
             ) -> list[tuple[str, str, etree._Element | None]]:
    """YANG Patch edits from `old` to `new`: a created or deleted subtree is one edit at
    its top node, a changed leaf one replace (RFC 8641 §3.7)."""
    edits: list[tuple[str, str, etree._Element | None]] = []

    def parent(path: str) -> str | None:
        steps = _split(path)
        return "/" + "/".join(steps[:-1]) if len(steps) > 1 else None

    for path in sorted(new):
        kind, value = new[path]
        up = parent(path)
        if path not in old:
            if (up is None or up in old) and "create" not in excluded:
                edits.append(("create", _api_path(path), _value(forest, path)))
        elif kind == "leaf" and old[path][1] != value and "replace" not in excluded:
            edits.append(("replace", _api_path(path), _value(forest, path)))
    for path in sorted(old):
        up = parent(path)
        if path not in new and (up is None or up in new) and "delete" not in excluded:
            edits.append(("delete", _api_path(path), None))
    return edits


def _value(forest: Forest, path: str) -> etree._Element | None:
    """RFC 8072 §2.5 edit value: the target node itself."""
    text = print_nodes(forest.find(path), "xml", with_siblings=False)
    return etree.fromstring(text.encode()) if text else None


def _split(path: str) -> list[str]:
    """Steps of a libyang node path, not splitting inside key predicates."""
    steps, depth, quote_char, current = [], 0, "", ""
    for ch in path[1:]:
        if quote_char:
            quote_char = "" if ch == quote_char else quote_char
        elif ch in "'\"":
            quote_char = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "/" and depth == 0:
            steps.append(current)
            current = ""
            continue
        current += ch
    steps.append(current)
    return steps


def _api_path(path: str) -> str:
    """A node path as RFC 8040 §3.5.3 data resource identifier (RFC 8072 edit target)."""
    try:
        steps = parse_path(path)
    except PathSyntaxError:
        return path
    out, module = [], None
    for step in steps:
        name = step.name if step.module in (None, module) else f"{step.module}:{step.name}"
        module = step.module or module
        keys = [quote(v, safe="") for k, v in step.predicates if k not in ("#",)]
        out.append(name + ("=" + ",".join(keys) if keys else ""))
    return "/" + "/".join(out)
