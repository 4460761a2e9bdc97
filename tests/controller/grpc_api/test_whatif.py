"""What-if against the service layer's renderer: per-device diffs of a plan that is
not committed, and the leaf-level JSON diff they are made of."""

from __future__ import annotations

import json

from controller.datastore.jsondiff import json_diff
from controller.datastore.nmda import NmdaStore
from controller.grpc_api.whatif import apply_hypothesis, configuration, what_if
from controller.service.expansion import QnumExpander


def test_json_diff_by_leaf_and_list_key() -> None:
    old = {"m:top": {"a": 1, "entry": [{"name": "x", "v": 1}, {"name": "y", "v": 2}]}}
    new = {"m:top": {"a": 2, "b": True, "entry": [{"name": "y", "v": 2}, {"name": "z"}]}}
    assert json_diff(old, new) == [
        {"operation": "replace", "path": "/m:top/a", "value": 2, "previous": 1},
        {"operation": "create", "path": "/m:top/b", "value": True, "previous": None},
        {"operation": "delete", "path": "/m:top/entry/[name=x]",
         "value": None, "previous": {"name": "x", "v": 1}},
        {"operation": "create", "path": "/m:top/entry/[name=z]",
         "value": {"name": "z"}, "previous": None}]
    assert json_diff(new, new) == []


def test_device_diff_against_committed_configuration(store: NmdaStore) -> None:
    expander = QnumExpander(time_limit_s=2.0)
    first = what_if(configuration(store), time_limit_s=2.0, expander=expander)
    assert first.device_diff_available and first.plan is not None
    assert {d.node_id for d in first.devices} >= {"alice", "bob"}
    assert all(c["operation"] == "create" for d in first.devices for c in d.changes)
    # pretend the devices run that configuration (each diff created one top container)
    expander.committed.plan = first.plan
    expander.committed.docs = {d.node_id: json.dumps({c["path"][1:]: c["value"]
                                                      for c in d.changes})
                               for d in first.devices}
    same = what_if(configuration(store), time_limit_s=2.0, expander=expander)
    assert same.devices == [] and same.notes == ["no device configuration would change"]
    config = apply_hypothesis(configuration(store), [], ["qkd-alice-bob"])
    fewer = what_if(config, time_limit_s=2.0, expander=expander)
    changed = {d.node_id for d in fewer.devices}
    assert changed and "alice" in changed
    assert all(c["operation"] in ("replace", "delete", "create")
               for d in fewer.devices for c in d.changes)
    assert json.dumps(fewer.devices[0].changes)  # JSON-serialisable for the API


def test_nothing_to_solve_without_quantum_network() -> None:
    result = what_if({"ietf-network:networks": {"network": [{"network-id": "lab"}]}},
                     time_limit_s=1.0)
    assert result.plan is None and "no quantum network" in result.notes[0]


def test_a_limit_cut_by_the_configured_optimiser_limit_is_said(store: NmdaStore) -> None:
    config = configuration(store)
    config.setdefault("sdqn-controller:controller", {}).setdefault(
        "optimiser", {})["time-limit"] = "0.5"
    result = what_if(config, time_limit_s=5.0)
    assert any("configured optimiser time limit of 0.5 s, not the 5 s asked" in note
               for note in result.notes)
    honoured = what_if(configuration(store), time_limit_s=2.0)
    assert not any("time limit" in note for note in honoured.notes)
