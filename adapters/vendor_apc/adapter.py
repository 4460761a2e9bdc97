"""DeviceAdapter for the Polarix APC (JSON over HTTP, not NETCONF).

The device's apply-with-auto-revert plays NETCONF's confirmed commit (RFC 6241 §8.4): the
commit's `persist` id is the apply token, so any controller instance can confirm or cancel
it, and an unconfirmed apply reverts on the device itself. The device's lock is bound to a
per-adapter session token (header) with a lease, so a crashed controller's lock lapses.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import uuid
from typing import Any
from urllib.parse import quote

import structlog

from adapters.vendor_apc.mapping import (
    VendorConfig,
    calibrate_force,
    calibrate_output,
    event_to_notification,
    merge_vendor,
    state_to_yang,
    vendor_to_yang,
    yang_to_vendor,
)
from southbound.adapter import AdapterError, DeviceAdapter, NotificationCallback
from southbound.model import DeviceEndpoint

log = structlog.get_logger(__name__)

SESSION_HEADER = "X-Polarix-Session"
APC_CAPABILITY = "urn:sdqn:sdqn-apc?module=sdqn-apc&revision=2026-11-22"
LOCK_LEASE_S = 600.0
EVENT_WAIT_S = 0.5  # long-poll slice: bounds how long close() waits for the subscriber


def error_tag(status: int, path: str) -> str:
    """RFC 6241 Appendix A error-tag for a Polarix HTTP status.

    404 is the vendor's answer to an unknown apply token, which NETCONF reports as
    invalid-value (ietf-netconf persist-id, RFC 6241 §8.3.4.1: no matching commit); 5xx is
    a device fault on a working connection, so it is operation-failed, not resource-denied
    (which makes the pool drop and reconnect the session)."""
    if status == 401:
        return "access-denied"
    if status == 409:
        return "lock-denied" if path.endswith("/lock") else "in-use"
    if status in (400, 404, 422):
        return "invalid-value"
    return "operation-failed"


class PolarixApcAdapter(DeviceAdapter):
    name = "polarix-apc"
    lock_lease_s = LOCK_LEASE_S  # the device drops our lock if we stay silent this long

    def __init__(self, endpoint: DeviceEndpoint, *, timeout: float = 30.0) -> None:
        super().__init__(endpoint, timeout=timeout)
        self._session = uuid.uuid4().hex
        self._open = False
        self._info: dict[str, Any] = {}
        self._stop = threading.Event()
        self._subscriber: threading.Thread | None = None
        self._locked = False
        creds = f"{endpoint.username}:{endpoint.password or ''}".encode()
        self._auth = "Basic " + base64.b64encode(creds).decode()

    # -- HTTP ----------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, *,
                 timeout: float | None = None) -> Any:
        ep = self.endpoint
        conn = http.client.HTTPConnection(ep.address, ep.port,
                                          timeout=timeout if timeout is not None
                                          else self.timeout)
        headers = {"Authorization": self._auth, SESSION_HEADER: self._session,
                   "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise AdapterError(f"{method} {path}: {ep.address}:{ep.port} unreachable ({exc})",
                               tag="resource-denied", node_id=ep.node_id) from exc
        finally:
            conn.close()
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"error": raw[:200].decode(errors="replace")}
        if resp.status >= 300:
            message = payload.get("error") if isinstance(payload, dict) else None
            raise AdapterError(f"{method} {path} refused ({resp.status}): "
                               f"{message or resp.reason}",
                               tag=error_tag(resp.status, path), node_id=ep.node_id)
        return payload

    def _need_open(self) -> None:
        if not self._open:
            raise AdapterError("not connected", tag="resource-denied",
                               node_id=self.endpoint.node_id)

    def _call(self, method: str, path: str, body: Any = None, *,
              timeout: float | None = None) -> Any:
        self._need_open()
        return self._request(method, path, body, timeout=timeout)

    # -- session -------------------------------------------------------------------------
    def open(self) -> None:
        self._info = self._request("GET", "/api/v1/info")
        self._stop.clear()
        self._open = True

    def close(self) -> None:
        was_open, self._open = self._open, False
        self._stop.set()
        if self._subscriber is not None:
            self._subscriber.join(timeout=EVENT_WAIT_S + 2)
            self._subscriber = None
        if was_open and self._locked:  # like a NETCONF session end: our lock goes with us
            try:
                self._request("DELETE", "/api/v1/lock", timeout=2)
            except AdapterError as exc:
                log.debug("lock release on close failed", device=self.endpoint.node_id,
                          error=str(exc))
        self._locked = False

    @property
    def connected(self) -> bool:
        return self._open

    def capabilities(self) -> list[str]:
        self._need_open()
        return [APC_CAPABILITY,
                f"urn:polarix:api:{self._info.get('api', 'v1')}"
                f"?model={quote(str(self._info.get('model', '')))}"
                f"&firmware={quote(str(self._info.get('firmware', '')))}"]

    def keepalive(self) -> None:
        self._call("GET", "/api/v1/info")

    # -- reads -----------------------------------------------------------------------------
    def _vendor_config(self, source: str) -> VendorConfig:
        if source == "running":
            cfg: VendorConfig = self._call("GET", "/api/v1/config")
        elif source == "candidate":
            cfg = self._call("GET", "/api/v1/config/pending")
        else:
            raise AdapterError(f"datastore {source!r} not supported by a Polarix APC",
                               tag="invalid-value", node_id=self.endpoint.node_id)
        return cfg

    def get_config(self, source: str = "running") -> str:
        return vendor_to_yang(self._vendor_config(source))

    def get_state(self) -> str:
        cfg = self._call("GET", "/api/v1/config")
        return state_to_yang(cfg, self._call("GET", "/api/v1/state"))

    # -- the transaction ---------------------------------------------------------------------
    def lock(self) -> None:
        self._call("POST", "/api/v1/lock", {"leaseS": self.lock_lease_s})
        self._locked = True

    def unlock(self) -> None:
        self._call("DELETE", "/api/v1/lock")
        self._locked = False

    def stage(self, config_xml: str, *, replace: bool = True) -> None:
        try:
            cfg = yang_to_vendor(config_xml)
        except AdapterError as exc:
            exc.node_id = self.endpoint.node_id
            raise
        if not replace:
            cfg = merge_vendor(self._vendor_config("candidate"), cfg)
        self._call("PUT", "/api/v1/config/pending", cfg)

    def validate(self) -> None:
        self._call("POST", "/api/v1/config/pending/validate")

    def commit(self, *, confirm_timeout: float, persist: str) -> None:
        self._call("POST", "/api/v1/config/apply",
                   {"token": persist, "revert_after_s": confirm_timeout})

    def confirm(self, *, persist_id: str) -> None:
        self._call("POST", "/api/v1/config/confirm", {"token": persist_id})

    def cancel_commit(self, *, persist_id: str) -> None:
        self._call("POST", "/api/v1/config/cancel", {"token": persist_id})

    def discard(self) -> None:
        self._call("DELETE", "/api/v1/config/pending")

    # -- actions ---------------------------------------------------------------------------
    def action(self, action_xml: str) -> str:
        """RFC 7950 §7.15 action, YANG-modelled like the config: the only one a Polarix APC
        has is sdqn-apc `calibrate`, played by `POST /api/v1/calibrate {force}`; the reply
        is the action's output elements (result, expected-duration)."""
        try:
            force = calibrate_force(action_xml)
            return calibrate_output(self._call("POST", "/api/v1/calibrate", {"force": force}))
        except AdapterError as exc:
            exc.node_id = exc.node_id or self.endpoint.node_id
            raise

    # -- vendor extras -----------------------------------------------------------------------
    def calibrate(self, *, force: bool = False) -> str:
        """sdqn-apc action calibrate; returns its 'result' (started | deferred | busy)."""
        return str(self._call("POST", "/api/v1/calibrate", {"force": force})["result"])

    # -- notifications -----------------------------------------------------------------------
    def subscribe(self, callback: NotificationCallback) -> None:
        if self._subscriber is not None and self._subscriber.is_alive():
            # RFC 5277 §2.1.1: one subscription per session
            raise AdapterError("already subscribed on this session", tag="operation-failed",
                               node_id=self.endpoint.node_id)
        last = int(self._call("GET", "/api/v1/events?after=-1")["last"])

        def pump() -> None:
            after = last
            while not self._stop.is_set():
                try:
                    reply = self._request("GET", f"/api/v1/events?after={after}"
                                          f"&waitS={EVENT_WAIT_S}",
                                          timeout=EVENT_WAIT_S + self.timeout)
                except AdapterError as exc:
                    log.debug("event poll failed", device=self.endpoint.node_id,
                              error=str(exc))
                    self._stop.wait(EVENT_WAIT_S)
                    continue
                for event in reply["events"]:
                    note = event_to_notification(event)
                    if note is not None and not self._stop.is_set():
                        self._deliver(callback, note)
                # a restarted device counts from 0 again: follow it rather than wait for
                # a sequence number it will not reach for a long time
                after = int(reply["last"])

        self._subscriber = threading.Thread(target=pump, daemon=True,
                                            name=f"notify-{self.endpoint.node_id}")
        self._subscriber.start()

    def _deliver(self, callback: NotificationCallback, note: str) -> None:
        """A failing consumer must not end the subscription (later alarms still matter)."""
        try:
            callback(note)
        except Exception:
            log.exception("notification callback failed", device=self.endpoint.node_id)
