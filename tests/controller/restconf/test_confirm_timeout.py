"""RESTCONF commit with a confirm-timeout outside uint32 (RFC 6241 §8.4.5.1): 400
invalid-value and nothing changes; the largest uint32 is accepted and cancellable."""

from __future__ import annotations

import httpx
import pytest

from controller.datastore.nmda import Datastore, NmdaStore

COMMIT = "/restconf/operations/ietf-netconf:commit"
EDIT = ("/restconf/ds/ietf-datastores:candidate/sdqn-services:entanglement-services/"
        "request=qkd-alice-bob")
JSON = {"Content-Type": "application/yang-data+json"}


@pytest.mark.parametrize("timeout", [4294967296, 10**30, 0, -1, "12", "١٢", 1.5, True])
def test_out_of_range_confirm_timeout(admin: httpx.Client, store: NmdaStore,
                                      timeout: object) -> None:
    assert admin.patch(EDIT, headers=JSON, json={"sdqn-services:request": [
        {"name": "qkd-alice-bob", "weight": "4.5"}]}).status_code == 204
    before, versions = store.get(Datastore.RUNNING), dict(store.versions)
    response = admin.post(COMMIT, headers=JSON, json={"ietf-netconf:input": {
        "confirmed": [None], "confirm-timeout": timeout}})
    if timeout == "12":  # RFC 7951 §6.1: a uint32 is a JSON number, a string is tolerated
        assert response.status_code == 204
        assert admin.post("/restconf/operations/ietf-netconf:cancel-commit").is_success
        return
    assert response.status_code == 400, response.text
    error = response.json()["ietf-restconf:errors"]["error"][0]
    assert error["error-tag"] == "invalid-value"
    assert store.get(Datastore.RUNNING) == before and store.versions == versions


def test_largest_uint32_is_accepted(admin: httpx.Client, store: NmdaStore) -> None:
    before = store.get(Datastore.RUNNING)
    assert admin.patch(EDIT, headers=JSON, json={"sdqn-services:request": [
        {"name": "qkd-alice-bob", "weight": "4.5"}]}).status_code == 204
    assert admin.post(COMMIT, headers=JSON, json={"ietf-netconf:input": {
        "confirmed": [None], "confirm-timeout": 4294967295}}).status_code == 204
    assert store.get(Datastore.RUNNING) != before
    assert admin.post("/restconf/operations/ietf-netconf:cancel-commit").is_success
    assert store.get(Datastore.RUNNING) == before
