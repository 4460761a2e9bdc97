"""sdqn-history's get-history and get-snapshot rpcs on NETCONF and RESTCONF.

Both northbounds (and gRPC, controller/grpc_api/service.py) call the service layer's one
HistoryApi, so each sees the same samples. The dispatchers have already checked NACM exec
access to sdqn-history:<rpc> (RFC 8341 §3.4.4). Input is checked like the base
operations' (RFC 6241 Appendix A: an element the rpc does not define is unknown-element,
a bad value invalid-value; RFC 8040 §7 on RESTCONF); output is the rpc's output in the
module's namespace (RFC 7950 §7.14.4), or its RFC 7951 members inside
"sdqn-history:output" (RFC 8040 §3.6.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from controller.datastore.history import RunningHistory
from controller.datastore.nmda import NmdaStore
from controller.netconf.core import RpcHandler as NetconfRpc
from controller.netconf.core import SessionContext
from controller.netconf.operations import Params
from controller.netconf.xml import json_elements
from controller.restconf.access import DataAccess
from controller.restconf.operations import RpcHandler as RestconfRpc
from controller.restconf.operations import check_members
from controller.service.history_api import HistoryApi
from controller.service.history_journal import SampleJournal
from controller.service.history_recorder import HistoryRecorder
from controller.service.history_store import HistoryStore
from controller.settings import ControllerSettings

MODULE = "sdqn-history"
NAMESPACE = "urn:sdqn:sdqn-history"


def netconf_history_rpcs(api: HistoryApi) -> dict[str, NetconfRpc]:
    """Handlers keyed "{namespace}name", as `NetconfServer(extra_rpcs=...)` wants."""

    def get_history(session: SessionContext, op: etree._Element) -> list[etree._Element]:
        params = Params(op, dict.fromkeys(("start", "end", "kind", "resource"), NAMESPACE))
        kinds = [(el.text or "").strip() for el in params.all("kind")]
        return json_elements(api.get_history(
            session.username, start=params.text("start"), end=params.text("end"),
            kinds=kinds or None, resource=params.text("resource")), NAMESPACE)

    def get_snapshot(session: SessionContext, op: etree._Element) -> list[etree._Element]:
        params = Params(op, {"time": NAMESPACE})
        return json_elements(api.get_snapshot(session.username, time=params.text("time")),
                             NAMESPACE)

    return {f"{{{NAMESPACE}}}get-history": get_history,
            f"{{{NAMESPACE}}}get-snapshot": get_snapshot}


def restconf_history_rpcs(api: HistoryApi) -> dict[str, RestconfRpc]:
    """Handlers keyed "module:name" (RFC 8040 §3.6), output members."""

    def get_history(user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"start", "end", "kind", "resource"}, "get-history")
        kinds = args.get("kind")
        if kinds is not None and not isinstance(kinds, list):
            kinds = [kinds]
        return api.get_history(user, start=args.get("start"), end=args.get("end"),
                               kinds=kinds, resource=args.get("resource"))

    def get_snapshot(user: str, args: dict[str, Any]) -> dict[str, Any]:
        check_members(args, {"time"}, "get-snapshot")
        return api.get_snapshot(user, time=args.get("time"))

    return {f"{MODULE}:get-history": get_history, f"{MODULE}:get-snapshot": get_snapshot}


@dataclass
class TimeSeries:
    """The bounded history of the network: its recorder (started with the northbounds)
    and the api every northbound reads it through."""
    recorder: HistoryRecorder
    api: HistoryApi

    def stop(self) -> None:
        """Stop recording, then close the samples' file."""
        self.recorder.stop()
        self.api.store.close()


def open_time_series(settings: ControllerSettings, store: NmdaStore, access: DataAccess,
                     commits: RunningHistory) -> TimeSeries:
    """One construction for `sdqn controller run` and `sdqn demo`: samples kept for the
    configured hours, commit events from the commit history, NACM from `access`."""
    journal = (SampleJournal(settings.datastore.data_dir / "history-samples.sqlite")
               if settings.history.persist else None)
    samples = HistoryStore(retention_s=settings.history.hours * 3600,
                           max_samples=settings.history.max_samples, journal=journal)
    recorder = HistoryRecorder(store, samples, commits=lambda: commits.log.recent(100),
                               heartbeat_s=settings.history.heartbeat_s)
    return TimeSeries(recorder, HistoryApi(samples, store.schema, access.core.access))
