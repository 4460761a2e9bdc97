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

import structlog
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from controller.datastore.nmda import Datastore
from controller.datastore.tree import Forest, WithDefaults
from controller.errors import ErrorTag, NetconfError
from controller.netconf import views
from controller.netconf.contracts import NetconfSession
from controller.netconf.core import ServerCore, now_iso
from controller.netconf.filters import match_notification
from controller.netconf.notifications import Notifier, notification_message
from controller.netconf.paths import xpath_to_json
from controller.netconf.push_diff import PATCH_NS, Snapshot, changes, flatten
from controller.netconf.push_params import (
    SN,
    SN_NS,
    YP,
    YP_NS,
    Args,
    centiseconds,
    datastore_identity,
    leaf,
    parse_time,
    refusal,
    stamp,
    subscription_id,
    time_param,
)
from controller.netconf.tenant_scope import notification_content
from controller.netconf.xml import DS_NS, text_of
from controller.netconf.xpath_cost import check_xpath_cost

log = structlog.get_logger(__name__)

#: server state composed per read rather than kept in the store: no change hook sees it,
#: so on-change to it is refused (RFC 8641 §3.10) rather than silently never firing
UNWATCHED_MODULES = ("ietf-yang-library", "ietf-netconf-monitoring", SN)
CHANGE_KINDS = frozenset({"create", "delete", "insert", "move", "replace"})
_MAX_WAIT_S = 1.0


class PushLimits(BaseModel):
    """Bounds on what subscribers may ask (RFC 8639 §2.4.2: insufficient-resources);
    config: netconf.push."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_session: int = Field(default=8, ge=1, description="dynamic subscriptions per session")
    total: int = Field(default=64, ge=1, description="dynamic subscriptions per server")
    min_period_cs: int = Field(default=100, ge=1,
                               description="smallest periodic push period, centiseconds "
                                           "(RFC 8641 §3.1: smaller is period-unsupported)")


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
    snapshot: Snapshot | None = None
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
                info.append(leaf(ns, "reason", first.app_tag, sn=module == SN,
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
        args = Args(op)
        sub = Dynamic(id=0, session=session)
        stream, datastore = args.text(SN_NS, "stream"), args.get(YP_NS, "datastore")
        if stream is None and datastore is None:
            raise NetconfError.of(ErrorTag.MISSING_ELEMENT, "give a target: <stream> or "
                                  "<datastore>", info=(("bad-element", "target"),))
        if stream is not None and datastore is not None:
            raise NetconfError.of(ErrorTag.INVALID_VALUE, "<stream> and <datastore> exclude "
                                  "each other", info=(("bad-element", "datastore"),))
        sub.stop = time_param(args, "stop-time")
        if sub.stop is not None and sub.stop <= datetime.now(UTC):
            raise NetconfError.of(ErrorTag.INVALID_VALUE, "stop-time is in the past")
        start: datetime | None = None
        if stream is not None:
            if stream not in self.core.streams:
                raise refusal("stream-unavailable", f"no event stream {stream!r}")
            sub.stream = stream
            self._stream_filter(sub, args)
            start = time_param(args, "replay-start-time")
            if start is not None and not self.notifier.replay:
                raise refusal("replay-unsupported", "this server keeps no replay log")
        else:
            assert datastore is not None
            if datastore_identity(datastore, DS_NS) != "operational":
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
        reply = f'<id xmlns="{SN_NS}">{sub.id}</id>'
        aged = self.notifier.replay_log_aged() if start is not None else None
        if start is not None and aged is not None and start < parse_time(aged, "aged"):
            # RFC 8639 §2.4.2.1: the replay starts later than asked, at the oldest kept
            reply += (f'<replay-start-time-revision xmlns="{SN_NS}">{aged}'
                      "</replay-start-time-revision>")
        return reply.encode()

    def modify(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 8639 §2.4.3 / RFC 8641 §4.4.2: new filter, stop-time or period of one's
        own subscription; a subscription-modified notification follows the reply."""
        args = Args(op)
        sub = self._own(session, args)
        changed = Dynamic(id=sub.id, session=session, stream=sub.stream,
                          event_filter=sub.event_filter, stream_xpath=sub.stream_xpath,
                          xpaths=sub.xpaths, datastore_xpath=sub.datastore_xpath,
                          period_cs=sub.period_cs, anchor=sub.anchor, on_change=sub.on_change,
                          dampening_cs=sub.dampening_cs, sync_on_start=sub.sync_on_start,
                          excluded=sub.excluded, stop=sub.stop)
        if args.has(SN_NS, "stop-time"):
            changed.stop = time_param(args, "stop-time")
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
        sub = self._own(session, Args(op))
        self._remove(sub)
        return b"<ok/>"

    def kill(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 8639 §2.4.5: any session's subscription (NACM default-deny-all); its
        receiver gets subscription-terminated."""
        sub_id = subscription_id(Args(op))
        with self._lock:
            sub = self._subs.get(sub_id)
        if sub is None:
            raise refusal("no-such-subscription", f"no dynamic subscription {sub_id}")
        self._remove(sub)
        self._lifecycle(sub, "subscription-terminated",
                        [leaf(SN_NS, "reason", f"{SN}:no-such-subscription", sn=True)],
                        force=True)
        return b"<ok/>"

    def resync(self, session: NetconfSession, op: etree._Element) -> bytes:
        """RFC 8641 §4.4.3: the next push of an on-change subscription is a full
        push-update, after which change updates continue from it."""
        args = Args(op, YP_NS)
        sub_id = subscription_id(args, YP_NS)
        with self._lock:
            sub = self._subs.get(sub_id)
        if sub is None or sub.session is not session or not sub.on_change:
            raise refusal("no-such-subscription-resync", f"no on-change subscription "
                          f"{sub_id} of this session", module=YP)
        sub.resync = True
        self._kick.set()
        return b"<ok/>"

    # -- parameters --------------------------------------------------------------------------

    def _own(self, session: NetconfSession, args: Args) -> Dynamic:
        sub_id = subscription_id(args)
        with self._lock:
            sub = self._subs.get(sub_id)
        if sub is None or sub.session is not session:
            # RFC 8639 §2.4.4: another session's subscription is "no such" for this one
            raise refusal("no-such-subscription", f"no subscription {sub_id} of this session")
        return sub

    def _stream_filter(self, sub: Dynamic, args: Args, *, keep: bool = False) -> None:
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

    def _selection(self, sub: Dynamic, args: Args, *, keep: bool = False) -> None:
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
        if sub.datastore_xpath is not None and (subtree is not None or xpath is not None):
            try:  # read again at every update: refused now rather than failing each time
                check_xpath_cost(sub.datastore_xpath, self.core.limits.xpath_max_scans)
            except NetconfError as err:
                raise refusal("insufficient-resources", err.first.message,
                              tag=ErrorTag.RESOURCE_DENIED) from None
        if subtree is None and xpath is None and not keep:
            sub.xpaths = sub.datastore_xpath = None

    def _trigger(self, sub: Dynamic, args: Args, *, modify: bool = False) -> None:
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
            period = centiseconds(periodic, "period", None if modify else 0)
            if period is not None:
                if period < self.limits.min_period_cs:
                    raise refusal("period-unsupported", f"period must be at least "
                                  f"{self.limits.min_period_cs} centiseconds", module=YP)
                sub.period_cs = period
            anchor = periodic.find(f"{{{YP_NS}}}anchor-time")
            if anchor is not None:
                sub.anchor = parse_time(text_of(anchor), "anchor-time")
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
        damp = centiseconds(on_change, "dampening-period", sub.dampening_cs)
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
                sub.snapshot = flatten(forest)
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
        for event_time, content in logged:
            self._send_event(sub, content, notification_message(event_time, content))
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
        module = self.core.module_of(name.namespace) or ""
        return access is None or (
            access.notification_allowed(module, name.localname)
            and access.notification_visible(module, name.localname,
                                            notification_content(content)))

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
            out.append(leaf(SN_NS, "stream", sub.stream))
        else:
            out.append(leaf(YP_NS, "datastore", "ds:operational", ds=True))
            if sub.datastore_xpath is not None:
                out.append(self._xpath_leaf(YP_NS, "datastore-xpath-filter",
                                            sub.datastore_xpath))
        if sub.stop is not None:
            out.append(leaf(SN_NS, "stop-time", stamp(sub.stop)))
        if sub.period_cs is not None:
            periodic = etree.Element(f"{{{YP_NS}}}periodic", nsmap={None: YP_NS})
            periodic.append(leaf(YP_NS, "period", str(sub.period_cs)))
            out.append(periodic)
        elif sub.on_change:
            change = etree.Element(f"{{{YP_NS}}}on-change", nsmap={None: YP_NS})
            change.append(leaf(YP_NS, "dampening-period", str(sub.dampening_cs)))
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
                sub.snapshot = flatten(forest)
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
            now = flatten(forest)
            edits = changes(sub.snapshot or {}, now, forest, sub.excluded)
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
            entry["stop-time"] = stamp(sub.stop)
        # RFC 8640 §2: a dynamic subscription's one receiver is its NETCONF session
        entry["receivers"] = {"receiver": [{
            "name": f"netconf-session-{sub.session.session_id}",
            "sent-event-records": str(sub.sent),
            "excluded-event-records": str(sub.excluded_records), "state": "active"}]}
        return entry
