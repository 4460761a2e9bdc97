"""Daemon glue: the gRPC server built from controller.json (grpc section)."""

from __future__ import annotations

import grpc
import structlog

from controller.app.calibrate_rpcs import Calibrate
from controller.datastore.history import RunningHistory
from controller.grpc_api.auth import TokenAuth
from controller.grpc_api.server import GrpcServer
from controller.grpc_api.service import ControllerService
from controller.netconf.certname import CertNameMapper
from controller.restconf.access import DataAccess
from controller.restconf.events import EventHub
from controller.service.drills import DrillService
from controller.service.expansion import QnumExpander
from controller.service.history_api import HistoryApi
from controller.settings import ControllerSettings, TlsSettings

log = structlog.get_logger(__name__)


def credentials(tls: TlsSettings | None) -> grpc.ServerCredentials | None:
    """TLS server credentials; mTLS when a client CA is configured. Paths are used as
    given (ControllerSettings.load made a config file's absolute)."""
    if tls is None:
        return None
    roots = tls.client_ca_file.read_bytes() if tls.client_ca_file is not None else None
    return grpc.ssl_server_credentials([(tls.key_file.read_bytes(), tls.cert_file.read_bytes())],
                                       root_certificates=roots,
                                       require_client_auth=tls.require_client_cert)


def build_grpc(settings: ControllerSettings, access: DataAccess, hub: EventHub,
               history: RunningHistory, expander: QnumExpander | None = None,
               history_api: HistoryApi | None = None, *,
               calibrate: Calibrate | None = None,
               drills: DrillService | None = None) -> GrpcServer:
    cfg = settings.grpc
    client_certs = cfg.tls is not None and cfg.tls.client_ca_file is not None
    # A client certificate names a user only through the cert-to-name list (RFC 7407):
    # any other certificate signed by the CA is refused.
    names = (CertNameMapper.from_files(settings.netconf.auth.cert_to_name,
                                       [cfg.tls.client_ca_file])
             if cfg.tls is not None and client_certs else None)
    auth = TokenAuth(cfg.tokens, client_certs=client_certs, cert_names=names,
                     guard=access.authenticator.guard)
    service = ControllerService(access, hub=hub, auth=auth,
                                history=history,
                                expander=expander, solve_time_limit_s=cfg.solve_time_limit_s,
                                history_api=history_api, calibrate=calibrate,
                                drills=drills)
    return GrpcServer(service, host=cfg.host, port=cfg.port,
                      credentials=credentials(cfg.tls), reflection=cfg.reflection,
                      reflection_auth=cfg.reflection_auth,
                      max_workers=cfg.max_workers, max_message_size=cfg.max_message_size)


def start_grpc(settings: ControllerSettings, access: DataAccess, hub: EventHub,
               history: RunningHistory, expander: QnumExpander | None = None,
               history_api: HistoryApi | None = None, *,
               calibrate: Calibrate | None = None,
               drills: DrillService | None = None) -> GrpcServer | None:
    """Build and start the gRPC server; a failure (port in use, grpcio-tools missing)
    costs the gRPC API, logged loudly, not the daemon and its other northbounds.
    `drills`: the DrillService the NETCONF and RESTCONF drill rpcs use (one drill at a
    time across every northbound)."""
    try:
        server = build_grpc(settings, access, hub, history, expander, history_api,
                            calibrate=calibrate, drills=drills)
        server.start()
    except (OSError, ImportError, RuntimeError) as exc:
        log.error("grpc server not started", error=str(exc))
        return None
    return server
