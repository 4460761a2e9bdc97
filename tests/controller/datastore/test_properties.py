"""Property tests: random valid edit sequences, in XML or JSON, match a plain model and
survive a restart unchanged."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.persistence import Persistence
from controller.datastore.schema import Schema
from tests.controller.datastore.conftest import NS, cfg

R = Datastore.RUNNING
NAMES = st.sampled_from([f"dev{i}" for i in range(6)])
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)

set_hostname = st.tuples(st.just("hostname"), WORDS)
set_mtu = st.tuples(st.just("mtu"), st.integers(68, 9000))
add_device = st.tuples(st.just("device"), NAMES, st.integers(0, 10_000),
                       st.one_of(st.none(), st.tuples(st.sampled_from(["ssh-port", "tls-port"]),
                                                      st.integers(1, 65535))))
delete_device = st.tuples(st.just("delete"), NAMES)
operations = st.lists(st.one_of(set_hostname, set_mtu, add_device, delete_device),
                      min_size=1, max_size=12)


def apply_model(model: dict[str, Any], op: tuple[Any, ...]) -> bool:
    """Apply to the model; False if the op is invalid for the datastore too."""
    kind = op[0]
    if kind in ("hostname", "mtu"):
        model.setdefault("system", {})[kind] = op[1]
    elif kind == "device":
        _, name, addr, port = op
        address = f"10.0.{addr // 256}.{addr % 256}"
        if any(d["address"] == address for n, d in model["devices"].items() if n != name):
            return False  # unique address would be violated
        entry = model["devices"].setdefault(name, {"name": name})
        entry["address"] = address
        if port is not None:
            entry.pop("ssh-port", None)
            entry.pop("tls-port", None)
            entry[port[0]] = port[1]
    elif kind == "delete":
        model["devices"].pop(op[1], None)
    return True


def to_xml(op: tuple[Any, ...]) -> str:
    kind = op[0]
    if kind in ("hostname", "mtu"):
        return f"<system {NS}><{kind}>{op[1]}</{kind}></system>"
    if kind == "delete":
        return f'<device {NS} nc:operation="remove"><name>{op[1]}</name></device>'
    _, name, addr, port = op
    extra = f"<{port[0]}>{port[1]}</{port[0]}>" if port else ""
    return (f"<device {NS}><name>{name}</name>"
            f"<address>10.0.{addr // 256}.{addr % 256}</address>{extra}</device>")


def to_json(op: tuple[Any, ...]) -> dict[str, Any]:
    kind = op[0]
    if kind in ("hostname", "mtu"):
        return {"sdqn-test:system": {kind: op[1]}}
    if kind == "delete":
        return {"sdqn-test:device": [{"@": {"ietf-netconf:operation": "remove"},
                                      "name": op[1]}]}
    _, name, addr, port = op
    entry: dict[str, Any] = {"name": name, "address": f"10.0.{addr // 256}.{addr % 256}"}
    if port:
        entry[port[0]] = port[1]
    return {"sdqn-test:device": [entry]}


def expected_json(model: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if model.get("system"):
        out["sdqn-test:system"] = model["system"]
    if model["devices"]:
        out["sdqn-test:device"] = list(model["devices"].values())
    return out


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    if "sdqn-test:device" in data:
        data["sdqn-test:device"] = sorted(data["sdqn-test:device"], key=lambda d: d["name"])
    return data


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, use_json=st.lists(st.booleans(), min_size=12, max_size=12))
def test_random_edits_round_trip(schema: Schema, ops: list[tuple[Any, ...]],
                                 use_json: list[bool]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "p.sqlite"
        store = NmdaStore(schema, persistence=Persistence(db, snapshot_every=5))
        model: dict[str, Any] = {"devices": {}}
        for op, as_json in zip(ops, use_json, strict=False):
            if not apply_model(model, op):
                continue
            if as_json:
                store.edit_json(R, to_json(op))
            else:
                store.edit_xml(R, cfg(to_xml(op)))
        got = normalise(json.loads(store.get(R)))
        want = normalise(expected_json(model))
        assert got == want
        assert store.persistence is not None
        store.persistence.close()
        again = NmdaStore(schema, persistence=Persistence(db))
        assert normalise(json.loads(again.get(R))) == want
        assert normalise(json.loads(again.get(Datastore.INTENDED))) == want
        assert again.persistence is not None
        again.persistence.close()
