"""Daemon glue: the RESTCONF server and its shared parts built from controller.json."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping

import structlog

from controller.console.site import ConsoleSite
from controller.datastore.history import RunningHistory
from controller.netconf.commits import CommitHistory
from controller.restconf.access import DataAccess
from controller.restconf.commits import commit_history_rpcs
from controller.restconf.events import EventHub
from controller.restconf.operations import RpcHandler
from controller.restconf.server import MetricsHook, RestconfServer
from controller.settings import ControllerSettings, TlsSettings

log = structlog.get_logger(__name__)


def tls_context(tls: TlsSettings | None) -> ssl.SSLContext | None:
    """Server-side TLS 1.2+ context; client certificates checked when a CA is given.
    Paths are used as given (ControllerSettings.load made a config file's absolute)."""
    if tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.client_ca_file is not None:
        context.load_verify_locations(tls.client_ca_file)
        context.verify_mode = (ssl.CERT_REQUIRED if tls.require_client_cert
                               else ssl.CERT_OPTIONAL)
    return context


def build_metrics(access: DataAccess) -> MetricsHook | None:
    """The Prometheus page renderer, fed with commit durations; None (logged) when
    prometheus-client is not installed."""
    try:
        from controller.metrics import ControllerMetrics
    except ImportError as exc:
        log.error("metrics disabled", error=str(exc))
        return None
    metrics = ControllerMetrics(access.store, nacm=access.core.nacm)
    access.commit_observers.append(metrics.observe_commit)
    return metrics.render


def build_restconf(settings: ControllerSettings, access: DataAccess, hub: EventHub,
                   history: RunningHistory, *,
                   extra_rpcs: Mapping[str, RpcHandler] | None = None) -> RestconfServer:
    rc = settings.restconf
    rpcs = {**commit_history_rpcs(CommitHistory(history, access.core), access),
            **(extra_rpcs or {})}
    return RestconfServer(access, host=rc.host, port=rc.port, hub=hub, extra_rpcs=rpcs,
                          tls=tls_context(rc.tls),
                          max_body=rc.max_body_size, max_connections=rc.max_connections,
                          max_connections_per_address=rc.max_connections_per_address,
                          idle_timeout=rc.idle_timeout, header_timeout=rc.header_timeout,
                          body_timeout=rc.body_timeout, max_header_bytes=rc.max_header_bytes,
                          worker_threads=rc.worker_threads,
                          metrics=build_metrics(access) if rc.metrics else None,
                          metrics_auth=rc.metrics_auth, console=ConsoleSite(access))


def start_optional(name: str, start: Callable[[], None]) -> bool:
    """Start a secondary northbound; a port already in use costs that northbound (logged
    loudly), not the daemon and its NETCONF service."""
    try:
        start()
    except OSError as exc:
        log.error(f"{name} server not started", error=str(exc))
        return False
    return True
