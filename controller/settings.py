"""Controller configuration (config/controller.json), validated with pydantic.

Only process-level settings live here (where to listen, where to store data). Everything
an operator manages at run time is YANG data in the datastores instead. Relative paths
in a config file resolve against that file's directory, so a configuration directory
(e.g. /etc/sdqn with its nacm.json and certificates) can be moved as a whole.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from controller.netconf.admission import SessionLimits
from controller.netconf.credentials import AuthSettings, GrpcToken, NetconfUser, TlsSettings
from controller.netconf.ratelimit import RateLimit
from controller.netconf.yangpush import PushLimits
from controller.paths import CONFIG_DIR
from controller.paths import data_dir as default_data_dir

__all__ = ["AuthSettings", "ControllerSettings", "GrpcToken", "NetconfUser", "TlsSettings"]

PRODUCT_MODULES: tuple[str, ...] = (
    "ietf-network",
    "ietf-network-topology",
    "ietf-alarms",
    "sdqn-types",
    "sdqn-topology",
    "sdqn-services",
    "sdqn-slices",
    "sdqn-controller",
    "sdqn-alarms",
    "sdqn-drills",
    "sdqn-history",
    # NETCONF server: access control rules (NACM, RFC 8341) live in running, get-schema and the
    # RFC 6470 notifications need their modules in the schema.
    "ietf-netconf",
    "ietf-netconf-acm",
    "ietf-netconf-monitoring",
    "ietf-netconf-notifications",
    # Dynamic subscriptions and YANG-Push (RFC 8639, RFC 8641) over NETCONF (RFC 8640).
    "ietf-subscribed-notifications",
    "ietf-yang-push",
)


class DatastoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir,
                           description="SQLite files, host key (default: controller.paths."
                                       "data_dir(): SDQN_DATA_DIR, /var/lib/sdqn or XDG)")
    snapshot_every: int = Field(default=256, ge=1, description="journal entries per snapshot")
    synchronous: str = Field(default="FULL", pattern="^(FULL|NORMAL|EXTRA)$",
                             description="SQLite synchronous level (FULL survives power loss)")
    boot_from_startup: bool = Field(default=False,
                                    description="load running from startup at start-up")

    @property
    def database(self) -> Path:
        return self.data_dir / "sdqn-datastores.sqlite"






class NetconfSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8830, ge=0, le=65535)
    host_key: Path | None = Field(default=None,
                                  description="default: <data_dir>/ssh_host_ecdsa_key "
                                              "(made on first start)")
    max_message_size: int = Field(default=16 * 1024 * 1024, ge=4096)
    max_sessions: int = Field(default=64, ge=1)
    limits: SessionLimits = Field(default_factory=SessionLimits,
                                  description="pre-authentication pools, per-user and "
                                              "per-address sessions, recovery reserve")
    xpath_max_scans: int = Field(default=2, ge=1,
                                 description="whole-tree scans a client's XPath may nest "
                                             "(2: quadratic at worst); more: resource-denied")
    max_result_nodes: int = Field(default=1_000_000, ge=1,
                                  description="data nodes one read may return; more: too-big")
    what_if: RateLimit = Field(default_factory=RateLimit,
                               description="what-if solves (dry-run on NETCONF/RESTCONF, "
                                           "gRPC WhatIf/DryRun) per user, all northbounds")
    push: PushLimits = Field(default_factory=PushLimits,
                             description="YANG-Push dynamic subscriptions (RFC 8639/8641)")
    hello_timeout: float = Field(default=30.0, gt=0)
    send_timeout: float = Field(default=60.0, gt=0)
    replay_events: int = Field(default=1024, ge=0,
                               description="notifications kept for RFC 5277 replay "
                                           "(<startTime>); 0 turns replay off")
    nacm: bool = True
    nacm_file: Path = Field(default=CONFIG_DIR / "nacm.json",
                            description="default rules, loaded when running has no /nacm")
    auth: AuthSettings = Field(default_factory=AuthSettings)


class ServiceSettings(BaseModel):
    """The service layer: Q-NUM expansion of running into intended, pushed to devices."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    device_username: str = "admin"
    device_password: str | None = Field(
        default=None, description="deprecated: plain text in the config; name a keystore "
                                  "entry in device_credentials instead")
    device_credentials: str | None = Field(
        default=None, description="name of the keystore entry (username, password) the "
                                  "controller logs in to devices with")
    keystore_file: Path | None = Field(default=None,
                                       description="default: <data_dir>/keystore.json (0600)")
    confirm_timeout_s: float = Field(default=120.0, gt=0,
                                     description="devices revert unconfirmed commits after")
    device_timeout_s: float = Field(default=10.0, gt=0, description="per-device RPC timeout")
    time_limit_s: float | None = Field(default=None, gt=0,
                                       description="overrides the optimiser's time-limit")
    telemetry_interval_s: float = Field(default=5.0, gt=0,
                                        description="device state polling period")
    sync_interval_s: float = Field(default=30.0, gt=0,
                                   description="check-sync period (out-of-band changes)")
    fault_pause_before_confirm_s: float = Field(
        default=0.0, ge=0, description="fault injection for crash tests: wait between the "
        "durable datastore write and the devices' confirm (0 in production)")




class RestconfSettings(BaseModel):
    """RESTCONF (RFC 8040) northbound; same accounts and NACM as NETCONF (netconf.auth)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    tls: TlsSettings | None = None
    max_body_size: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_connections: int = Field(default=128, ge=1, description="open connections in all; "
                                 "more are refused with 503")
    max_connections_per_address: int = Field(
        default=32, ge=1, description="open connections from one source address, so one "
        "client cannot take the pool from the operators")
    idle_timeout: float = Field(default=30.0, gt=0, description="keep-alive idle seconds")
    header_timeout: float = Field(default=10.0, gt=0, description="seconds for a request's "
                                  "line and headers to arrive (slowloris defence); 408")
    body_timeout: float = Field(default=30.0, gt=0, description="seconds for a request "
                                "body to arrive; 408")
    max_header_bytes: int = Field(default=64 * 1024, ge=4096,
                                  description="request line plus headers; larger is 431")
    worker_threads: int = Field(default=8, ge=1, le=256,
                                description="RESTCONF engine calls run at once")
    metrics: bool = Field(default=True, description="Prometheus text at /metrics")
    metrics_auth: bool = Field(default=False, description="require basic auth for /metrics "
                                                          "(off: scrapers on loopback)")




class GrpcSettings(BaseModel):
    """gRPC (sdqn.v1) northbound for scripts and the `sdqn` CLI."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=50051, ge=0, le=65535)
    tls: TlsSettings | None = None
    tokens: list[GrpcToken] = Field(default_factory=list)
    reflection: bool = True
    reflection_auth: bool = Field(default=False,
                                  description="require a token or mapped client certificate "
                                              "for server reflection (off: tools such as "
                                              "grpcurl discover the API unauthenticated)")
    max_message_size: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_workers: int = Field(default=16, ge=1)
    solve_time_limit_s: float = Field(default=10.0, gt=0,
                                      description="cap on a what-if (dry-run) solve")


class HistorySettings(BaseModel):
    """The bounded time-series history (sdqn-history rpcs): in memory for queries and,
    unless `persist` is off, in <data_dir>/history-samples.sqlite so a restart keeps it."""

    model_config = ConfigDict(extra="forbid")
    hours: float = Field(default=24.0, gt=0, description="how long samples are retained")
    max_samples: int = Field(default=200_000, ge=1,
                             description="hard cap on retained samples (memory and disk)")
    persist: bool = Field(default=True, description="keep the samples on disk across "
                                                     "restarts")
    heartbeat_s: float = Field(default=10.0, gt=0, description=(
        "a value measured again unchanged is sampled again at most this often"))


class ControllerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    modules: list[str] = Field(default_factory=lambda: list(PRODUCT_MODULES))
    datastore: DatastoreSettings = Field(default_factory=DatastoreSettings)
    netconf: NetconfSettings = Field(default_factory=NetconfSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    restconf: RestconfSettings = Field(default_factory=RestconfSettings)
    grpc: GrpcSettings = Field(default_factory=GrpcSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)

    @classmethod
    def load(cls, path: Path | None = None) -> ControllerSettings:
        path = path or CONFIG_DIR / "controller.json"
        if not path.exists():
            return cls()
        settings = cls.model_validate(json.loads(path.read_text()))
        settings.resolve_paths(path.parent.absolute())
        return settings

    def resolve_paths(self, base: Path) -> None:
        """Every relative path of the file (data directory, NACM rules, host key, TLS
        files) made absolute against `base`, the file's directory."""
        def under(path: Path) -> Path:
            return path if path.is_absolute() else base / path

        self.datastore.data_dir = under(self.datastore.data_dir)
        self.netconf.nacm_file = under(self.netconf.nacm_file)
        if self.netconf.host_key is not None:
            self.netconf.host_key = under(self.netconf.host_key)
        if self.service.keystore_file is not None:
            self.service.keystore_file = under(self.service.keystore_file)
        for tls in (self.restconf.tls, self.grpc.tls):
            if tls is not None:
                tls.cert_file = under(tls.cert_file)
                tls.key_file = under(tls.key_file)
                if tls.client_ca_file is not None:
                    tls.client_ca_file = under(tls.client_ca_file)

    @property
    def keystore_path(self) -> Path:
        return self.service.keystore_file or self.datastore.data_dir / "keystore.json"

    @property
    def host_key_path(self) -> Path:
        return self.netconf.host_key or self.datastore.data_dir / "ssh_host_ecdsa_key"
