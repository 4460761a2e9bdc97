"""Emulator of a non-NETCONF vendor APC: the "Polarix APC REST API v1" (JSON over HTTP).

It is what a vendor adapter must cope with: no YANG, vendor field names and units, a
pending/active config pair instead of a NETCONF candidate, an apply with a real auto-revert
timer (the vendor's take on RFC 6241 §8.4 confirmed commit), a leased edit lock bound to a
session-token header (HTTP has no sessions; the lease keeps a crashed client from holding
the lock forever), vendor-side validation rules YANG does not know (422), and events by
bounded long-poll.  Stdlib only: http.server.ThreadingHTTPServer on 127.0.0.1.

Endpoints (HTTP basic auth on all):
  GET    /api/v1/info                       model, firmware
  GET    /api/v1/config                     active config
  GET    /api/v1/config/pending             pending config (the active one if none staged)
  PUT    /api/v1/config/pending             stage (whole config)
  DELETE /api/v1/config/pending             discard
  POST   /api/v1/config/pending/validate    200 | 422 {"error"}
  POST   /api/v1/config/apply               {"token","revert_after_s"}  422 invalid,
                                            409 other apply pending, 503 calibrating
  POST   /api/v1/config/confirm             {"token"}      404 if no such apply pending
  POST   /api/v1/config/cancel              {"token"}      404 if no such apply pending
  POST   /api/v1/lock {"leaseS"} / DELETE   409 if held by another session
  GET    /api/v1/state
  GET    /api/v1/events?after=N&waitS=T     long-poll (T ≤ 5 s); after=-1: just the last seq
  POST   /api/v1/calibrate {"force"}
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog

log = structlog.get_logger(__name__)

SESSION_HEADER = "X-Polarix-Session"
MAX_WAIT_S = 5.0
EVENT_BUFFER = 1024  # the device keeps only its latest events; older sequence numbers lapse
DEFAULTS: dict[str, Any] = {"calibration": {"intervalMin": 60.0, "idleWindowOnly": True,
                                            "maxDeferralMin": 10.0},
                            "tracking": {"enabled": True, "toleranceMrad": 100.0}}
ALLOWED = {"deviceName": str, "fibreId": str, "calibration": dict, "tracking": dict,
           "referenceBases": list}
ALLOWED_SUB = {"calibration": {"intervalMin", "idleWindowOnly", "maxDeferralMin"},
               "tracking": {"enabled", "toleranceMrad"}}
CALIBRATED_RESIDUAL_MRAD = 5.0
Json = dict[str, Any]


class VendorError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def vendor_validate(cfg: Json) -> None:
    """The device's own rules (some stricter than sdqn-apc): raise VendorError 422."""
    def bad(msg: str) -> VendorError:
        return VendorError(422, msg)

    if not cfg:
        return
    for key, value in cfg.items():
        if key not in ALLOWED or not isinstance(value, ALLOWED[key]):
            raise bad(f"E101 unknown or mistyped field '{key}'")
        if key in ALLOWED_SUB and set(value) - ALLOWED_SUB[key]:
            raise bad(f"E102 unknown field(s) {sorted(set(value) - ALLOWED_SUB[key])} in {key}")
    if not cfg.get("deviceName"):
        raise bad("E110 deviceName is required")
    bases = cfg.get("referenceBases", [])
    if len(set(bases)) < 2 or set(bases) - {"HV", "DA", "RL"}:
        raise bad("E120 referenceBases needs two distinct bases of HV, DA, RL")
    cal = {**DEFAULTS["calibration"], **cfg.get("calibration", {})}
    if not 0.1 <= cal["intervalMin"] <= 10080:
        raise bad(f"E130 intervalMin {cal['intervalMin']} outside 0.1..10080")
    if cal["maxDeferralMin"] >= cal["intervalMin"]:
        raise bad(f"E131 maxDeferralMin {cal['maxDeferralMin']} must be below intervalMin "
                  f"{cal['intervalMin']}")
    tol = {**DEFAULTS["tracking"], **cfg.get("tracking", {})}["toleranceMrad"]
    if not 0 < tol <= 500:
        raise bad(f"E140 toleranceMrad {tol} outside (0, 500]")


class PolarixApc:
    """The device: config pair, revert timer, lock, events, a little polarisation physics."""

    def __init__(self, *, drift_mrad_per_s: float = 0.2, calibration_s: float = 0.2) -> None:
        self._mu = threading.RLock()
        self.cond = threading.Condition(self._mu)
        self.active: Json = {}
        self.pending: Json | None = None
        self.rollback: Json | None = None
        self.apply_token: str | None = None
        self._timer: threading.Timer | None = None
        self._arming = 0  # generation of the revert timer: a superseded timer does nothing
        self.lock_owner: str | None = None
        self.lock_expires = 0.0
        self.lock_lease_s = 0.0
        self.events: deque[Json] = deque(maxlen=EVENT_BUFFER)
        self._seq = 0
        self.closed = False
        self.drift = drift_mrad_per_s
        self.calibration_s = calibration_s
        self.error_mrad = 500.0  # uncalibrated at power-up
        self.calibrating = False
        self.health, self.settled, self.health_since = "DEGRADED", False, time.time()
        self.last_calibration: float | None = None
        self.reverts = 0

    # -- events ------------------------------------------------------------------------
    def emit(self, kind: str, **fields: Any) -> None:
        with self.cond:
            self._seq += 1
            self.events.append({"seq": self._seq, "time": time.time(), "type": kind,
                                **fields})
            self.cond.notify_all()

    def wait_events(self, after: int, wait_s: float) -> Json:
        deadline = time.monotonic() + min(max(wait_s, 0.0), MAX_WAIT_S)
        with self.cond:
            if after < 0:
                return {"events": [], "last": self._seq}
            while self._seq <= after and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return {"events": [e for e in self.events if e["seq"] > after],
                    "last": self._seq}

    # -- lock --------------------------------------------------------------------------
    def _holder(self) -> str | None:
        if self.lock_owner is not None and time.monotonic() > self.lock_expires:
            self.lock_owner = None
        return self.lock_owner

    def check_lock(self, session: str | None) -> None:
        with self._mu:
            holder = self._holder()
            if holder is not None and holder != session:
                raise VendorError(409, "E409 configuration locked by another session")
            if holder is not None:  # the holder is active: its lease runs on
                self.lock_expires = time.monotonic() + self.lock_lease_s

    def lock(self, session: str | None, lease_s: float) -> None:
        if not session:
            raise VendorError(400, f"E400 {SESSION_HEADER} header required")
        with self._mu:
            self.check_lock(session)
            self.lock_owner, self.lock_lease_s = session, lease_s
            self.lock_expires = time.monotonic() + lease_s

    def unlock(self, session: str | None) -> None:
        with self._mu:
            holder = self._holder()
            if holder is None:
                raise VendorError(409, "E410 not locked")
            self.check_lock(session)
            self.lock_owner = None

    # -- config ------------------------------------------------------------------------
    def staged(self) -> Json:
        with self._mu:
            return copy.deepcopy(self.pending if self.pending is not None else self.active)

    def validate(self) -> None:
        vendor_validate(self.staged())

    def apply(self, token: str, revert_after_s: float) -> None:
        with self._mu:
            new = self.staged()
            vendor_validate(new)
            if self.apply_token is not None and self.apply_token != token:
                raise VendorError(409, "E420 another apply awaits confirmation")
            if self.calibrating:  # the optics are busy: a real APC refuses, retry later
                raise VendorError(503, "E503 calibration in progress, apply refused")
            if self.apply_token is None:
                self.rollback = copy.deepcopy(self.active)
            self.active, self.pending, self.apply_token = new, None, token
            self._arm(revert_after_s)
        self.emit("configApplied", token=token)

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._arming += 1
        self._timer = threading.Timer(seconds, self._auto_revert, args=(self._arming,))
        self._timer.daemon = True
        self._timer.start()

    def _auto_revert(self, arming: int) -> None:
        with self._mu:
            # a timer that fired while a re-apply, confirm or cancel held the lock is stale
            if arming != self._arming or self.apply_token is None or self.closed:
                return
            token = self.apply_token
            self._revert()
        self.emit("configReverted", token=token, cause="not confirmed in time")

    def _revert(self) -> None:
        self.active = self.rollback if self.rollback is not None else {}
        self.rollback, self.apply_token = None, None
        self.reverts += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _settle(self, token: str) -> None:
        if self.apply_token is None or token != self.apply_token:
            raise VendorError(404, f"E404 no apply with token {token!r} awaits confirmation")

    def confirm(self, token: str) -> None:
        with self._mu:
            self._settle(token)
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self.apply_token, self.rollback = None, None, None

    def cancel(self, token: str) -> None:
        with self._mu:
            self._settle(token)
            self._revert()
        self.emit("configReverted", token=token, cause="cancelled")

    # -- physics -----------------------------------------------------------------------
    def set_error(self, mrad: float) -> None:
        """Inject a residual misalignment (a drift surge), raising/clearing the alarm."""
        with self._mu:
            tol = {**DEFAULTS["tracking"], **self.active.get("tracking", {})}["toleranceMrad"]
            was_out = self.error_mrad > tol
            self.error_mrad = mrad
            now_out = mrad > tol
        if was_out != now_out:
            self.emit("toleranceAlarm", active=now_out, errorMrad=mrad,
                      cause=f"tracking error {mrad} mrad vs tolerance {tol} mrad")

    def calibrate(self, force: bool) -> Json:
        with self._mu:
            if self.calibrating:
                return {"result": "busy"}
            self.calibrating = True
            self._set_health("CALIBRATING", False, "calibration started")
        timer = threading.Timer(self.calibration_s, self._calibrated)
        timer.daemon = True
        timer.start()
        return {"result": "started", "expectedDurationS": self.calibration_s, "forced": force}

    def _calibrated(self) -> None:
        if self.closed:
            return
        with self._mu:
            self.calibrating = False
            self.last_calibration = time.time()
        self.set_error(CALIBRATED_RESIDUAL_MRAD)
        self.emit("calibrationDone", ok=True, residualMrad=CALIBRATED_RESIDUAL_MRAD)
        self._set_health("OK", True, "calibration converged")

    def _set_health(self, health: str, settled: bool, cause: str) -> None:
        with self._mu:
            self.health, self.settled, self.health_since = health, settled, time.time()
        self.emit("healthChanged", health=health, settled=settled, cause=cause)

    def state(self) -> Json:
        with self._mu:
            interval_min = {**DEFAULTS["calibration"],
                            **self.active.get("calibration", {})}["intervalMin"]
            last = self.last_calibration
            return {"driftRateMradPerS": self.drift, "trackingErrorMrad": self.error_mrad,
                    "lastCalibration": last,
                    "nextCalibration": None if last is None else last + 60 * interval_min,
                    "calibrating": self.calibrating, "health": self.health,
                    "settled": self.settled, "healthSince": self.health_since}

    def close(self) -> None:
        with self.cond:
            self.closed = True
            if self._timer is not None:
                self._timer.cancel()
            self.cond.notify_all()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("polarix request", line=format % args)

    def _reply(self, status: int, body: Json | None = None) -> None:
        data = json.dumps(body if body is not None else {}).encode()
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="polarix"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Json:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            raise VendorError(400, "E400 body is not JSON") from None
        if not isinstance(body, dict):
            raise VendorError(400, "E400 body must be a JSON object")
        return body

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return self.server.users.get(user) == password

    def _dispatch(self, method: str) -> None:
        if not self._authorised():
            self._reply(401, {"error": "E401 authentication required"})
            return
        url = urlsplit(self.path)
        try:
            body = self._body()
            self._reply(200, self._route(method, url.path, parse_qs(url.query), body))
        except VendorError as exc:
            self._reply(exc.status, {"error": str(exc)})
        except (KeyError, TypeError, ValueError) as exc:
            self._reply(400, {"error": f"E400 bad request: {exc}"})

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Json
               ) -> Json | None:
        dev = self.server.device
        session = self.headers.get(SESSION_HEADER)
        key = (method, path)
        if key == ("GET", "/api/v1/info"):
            return {"model": "Polarix APC-2", "firmware": "4.2.1", "api": "v1"}
        if key == ("GET", "/api/v1/config"):
            with dev.cond:
                return copy.deepcopy(dev.active)
        if key == ("GET", "/api/v1/config/pending"):
            return dev.staged()
        if key == ("GET", "/api/v1/state"):
            return dev.state()
        if key == ("GET", "/api/v1/events"):
            return dev.wait_events(int(query.get("after", ["0"])[0]),
                                   float(query.get("waitS", ["0"])[0]))
        if key == ("POST", "/api/v1/config/pending/validate"):
            dev.validate()
            return {"valid": True}
        if key == ("POST", "/api/v1/lock"):
            dev.lock(session, float(body.get("leaseS", 300)))
            return {"locked": True}
        if key == ("DELETE", "/api/v1/lock"):
            dev.unlock(session)
            return {"locked": False}
        dev.check_lock(session)  # everything below changes the device
        if key == ("PUT", "/api/v1/config/pending"):
            with dev.cond:
                dev.pending = body
            return None
        if key == ("DELETE", "/api/v1/config/pending"):
            with dev.cond:
                dev.pending = None
            return None
        if key == ("POST", "/api/v1/config/apply"):
            dev.apply(str(body["token"]), float(body["revert_after_s"]))
            return None
        if key == ("POST", "/api/v1/config/confirm"):
            dev.confirm(str(body["token"]))
            return None
        if key == ("POST", "/api/v1/config/cancel"):
            dev.cancel(str(body["token"]))
            return None
        if key == ("POST", "/api/v1/calibrate"):
            return dev.calibrate(bool(body.get("force", False)))
        raise VendorError(404, f"E404 no such resource {method} {path}")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, device: PolarixApc, users: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.device = device
        self.users = users


class PolarixApcEmulator:
    """One emulated Polarix APC on 127.0.0.1 (port 0 = a free port)."""

    def __init__(self, *, port: int = 0, users: dict[str, str] | None = None,
                 device: PolarixApc | None = None) -> None:
        self.device = device or PolarixApc()
        self._server = _Server(port, self.device, users or {"admin": "admin"})
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    def start(self) -> PolarixApcEmulator:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True,
                                        name=f"polarix-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.device.close()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> PolarixApcEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
