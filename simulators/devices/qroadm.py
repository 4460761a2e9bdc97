"""Emulated quantum ROADM (module sdqn-qroadm).

Physics.  Circuit mode: a cross-connect passes light when both of its ports see light —
a degree's fibre is intact and its far end powered, an add/drop port's fibre (its
``link-id``) is intact and its attached node powered; its measured insertion loss
scatters around the nominal one.  The delay between a
quantum channel and its timing companion wanders (temperature-driven differential delay,
diffusing at SKEW_DIFFUSION ps/√s) around the value calibrated when the cross-connect was
set up; the device's continuous delay tracking pulls it back with time constant
SKEW_TRACKING_S (an Ornstein–Uhlenbeck process: stationary spread SKEW_DIFFUSION·√(τ/2)
≈ 9 ps, so a healthy cross-connect stays within tolerance however long it lives — a pure
random walk would cross 50 ps after a few hours).  Beyond SKEW_TOLERANCE (detection windows
are tens to hundreds of ps wide) it raises ``timing-skew-alarm``; an injected offset (the
``timing-skew`` fault) is outside what tracking corrects.  Packet mode: bursts arrive at
BURST_LOAD of the slot rate 1/(T_Q + guard); each is forwarded with the hardware
availability P (qnum/README.md, "Packet-switched q-ROADM path") or dropped, always dropped
when its egress fibre has no light.
"""

from __future__ import annotations

import math
from typing import ClassVar

from simulators.devices.base import (
    DEGRADED,
    DOWN,
    UP,
    AlarmLatch,
    DeviceModel,
    Health,
    Json,
    Notification,
    counter,
    dec,
    prob,
)

SKEW_TOLERANCE_PS = 50.0
SKEW_DIFFUSION_PS = 0.5
#: time constant (s) of the q-ROADM's continuous delay tracking
SKEW_TRACKING_S = 600.0
LOSS_SCATTER_DB = 0.05
BURST_LOAD = 0.1
BURST_AVAILABILITY_ALARM = 0.99


def tracked_skew(skew: float, dt: float, draw: float) -> float:
    """The wander after `dt` seconds under delay tracking (exact OU step; `draw` ~ N(0,1))."""
    keep = math.exp(-dt / SKEW_TRACKING_S)
    spread = SKEW_DIFFUSION_PS * math.sqrt(SKEW_TRACKING_S / 2.0)
    return skew * keep + spread * math.sqrt(1.0 - keep * keep) * draw


class QRoadm(DeviceModel):
    kind: ClassVar[str] = "q-roadm"
    craft_edit: ClassVar[Json] = {"nominal-insertion-loss": "1.7"}
    settle_time: ClassVar[float] = 1.0

    def reset(self, now: float) -> None:
        self.xc: dict[str, Json] = {}
        self.stats = {"received": 0, "forwarded": 0, "dropped": 0, "buffer": 0}
        self.window = [0, 0]  # forwarded / received since the last alarm evaluation
        self._alarms = AlarmLatch()
        #: an injected differential delay (ps) added to every timed cross-connect's skew
        #: (the fault `timing-skew`: a timing fibre re-spliced, a companion re-routed)
        self.skew_offset = 0.0

    def factory_body(self) -> Json:
        q = self.node.qroadm
        fibres = sorted(lk.link_id for lk in self.world.topology.links_of(self.node_id))
        degrees = max(int(q.get("degrees", len(fibres))), len(fibres))
        return {
            "switching-mode": str(q.get("switching-mode", "circuit")),
            "wavelength-channels": int(q.get("wavelength-channels", 40)),
            "nominal-insertion-loss": str(q.get("insertion-loss", "1.5")),
            "degree": [{"degree-number": i + 1, **({"link-id": fibres[i]} if i < len(fibres)
                                                    else {})} for i in range(degrees)],
            "add-drop-port": [{"port-number": i + 1}
                              for i in range(int(q.get("add-drop-ports", 0)))],
        }

    def on_config(self, old: Json, now: float) -> list[Notification]:
        # Cross-connects set up anew are calibrated: their skew starts at zero.
        names = {x["name"] for x in self._cross_connects()}
        self.xc = {n: v for n, v in self.xc.items() if n in names}
        return []

    # -- ports ---------------------------------------------------------------------------

    def _cross_connects(self) -> list[Json]:
        return list((self.config.get("circuit") or {}).get("cross-connect") or [])

    def _port_light(self, endpoint: Json) -> bool:
        if "degree" in endpoint:
            degrees = {d["degree-number"]: d.get("link-id")
                       for d in self.config.get("degree") or []}
            link = self.world.topology.links.get(str(degrees.get(endpoint["degree"])))
            return (link is not None and self.world.fibre_ok(link)
                    and self.world.node_up(link.other(self.node_id)))
        ports = {p["port-number"]: p for p in self.config.get("add-drop-port") or []}
        port = ports.get(endpoint.get("add-drop-port")) or {}
        attached, fibre = port.get("attached-node"), port.get("link-id")
        if fibre is not None:   # the access fibre must be intact (and attached at all)
            link = self.world.topology.links.get(str(fibre))
            if link is None or not self.world.fibre_ok(link):
                return False
        return attached is None or self.world.node_up(str(attached))

    # -- circuit mode --------------------------------------------------------------------

    def _step_circuit(self, dt: float) -> list[Notification]:
        notes: list[Notification] = []
        kinds = {c["channel-id"]: c.get("kind") for c in self.config.get("channel") or []}
        nominal = float(self.config.get("nominal-insertion-loss", 1.5))
        for cfg in self._cross_connects():
            name = cfg["name"]
            run = self.xc.setdefault(name, {"oper": None, "skew": 0.0})
            ok = self._port_light(cfg.get("source") or {}) and self._port_light(
                cfg.get("destination") or {})
            oper = UP if ok else DOWN
            if oper != run["oper"]:
                if run["oper"] is not None or oper != UP:
                    notes.append(Notification(self.module, "cross-connect-state-change",
                                              {"name": name, "oper-status": oper}))
                run["oper"] = oper
            run["loss"] = nominal + abs(float(self.rng.normal(0.0, LOSS_SCATTER_DB)))
            timed = kinds.get(cfg["channel"]) == "quantum" and cfg.get("timing-companion")
            if timed and dt > 0:
                run["skew"] = tracked_skew(float(run["skew"]), dt, float(self.rng.normal()))
            skew = self._skew(cfg, run)
            edge = self._alarms.update(f"skew:{name}", bool(timed) and ok
                                       and abs(skew) > SKEW_TOLERANCE_PS)
            if edge is not None:
                notes.append(self.alarm("timing-skew-alarm", edge, "major",
                                        "timing skew beyond detection window", name=name,
                                        timing_skew=dec(skew, 3)))
        return notes

    def _skew(self, cfg: Json, run: Json) -> float:
        """The measured skew: the wander plus any injected offset (timed channels only)."""
        return float(run["skew"]) + (self.skew_offset if cfg.get("timing-companion") else 0.0)

    # -- packet mode ---------------------------------------------------------------------

    def _step_packet(self, dt: float) -> list[Notification]:
        packet = self.config.get("packet") or {}
        slot = float(packet.get("payload-duration", 1e-4)) + float(
            packet.get("guard-time", 1e-7))
        routes = list(packet.get("route") or [])
        received = int(self.rng.poisson(BURST_LOAD * dt / slot)) if dt > 0 and routes else 0
        availability = float(self.node.qroadm.get("availability", 0.999))
        lit = [r for r in routes if self._port_light(r.get("egress") or {})]
        reachable = received * len(lit) // len(routes) if routes else 0
        forwarded = int(self.rng.binomial(reachable, availability)) if reachable else 0
        self.stats["received"] += received
        self.stats["forwarded"] += forwarded
        self.stats["dropped"] += received - forwarded
        buffer = packet.get("buffer") or {}
        capacity = int(buffer.get("capacity", 0)) if buffer.get("enabled", False) else 0
        self.stats["buffer"] = int(self.rng.binomial(capacity, BURST_LOAD)) if capacity else 0
        self.window[0] += forwarded
        self.window[1] += received
        if self.window[1] < 1000:
            return []
        measured = self.window[0] / self.window[1]
        self.window = [0, 0]
        edge = self._alarms.update("burst-loss", measured < BURST_AVAILABILITY_ALARM)
        if edge is None:
            return []
        return [self.alarm("burst-loss-alarm", edge, "major", "burst availability low",
                           availability=prob(measured))]

    # -- the tick ------------------------------------------------------------------------

    @property
    def packet_mode(self) -> bool:
        return str(self.config.get("switching-mode", "circuit")) == "packet"

    def step(self, now: float, dt: float) -> list[Notification]:
        if not self.configured:
            return []
        return self._step_packet(dt) if self.packet_mode else self._step_circuit(dt)

    def health(self, now: float) -> Health:
        down = sorted(n for n, x in self.xc.items() if x["oper"] == DOWN)
        problems = [f"cross-connect {n} down" for n in down] + sorted(self._alarms.active)
        if problems:
            return Health(DEGRADED, False, "; ".join(problems))
        return Health(UP, True, "all cross-connects passing light")

    def state_body(self, now: float) -> Json:
        if self.packet_mode:
            received = self.stats["received"]
            return {"packet": {"statistics": {
                "bursts-received": counter(received),
                "bursts-forwarded": counter(self.stats["forwarded"]),
                "bursts-dropped": counter(self.stats["dropped"]),
                "buffer-occupancy": self.stats["buffer"],
                "availability": prob(self.stats["forwarded"] / received if received else 1.0),
            }}}
        configs = {c["name"]: c for c in self._cross_connects()}
        return {"circuit": {"cross-connect": [
            {"name": name, "state": {"oper-status": x["oper"] or DOWN,
                                     "insertion-loss": dec(x.get("loss", 0.0), 3),
                                     "timing-skew": dec(self._skew(configs.get(name, {}), x),
                                                        3)}}
            for name, x in self.xc.items()]}}
