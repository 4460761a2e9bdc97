"""api-path resolution (RFC 8040 §3.5.3) and query parameters (§4.8), without HTTP."""

from __future__ import annotations

import pytest

from controller.datastore.editparse import SchemaIndex
from controller.datastore.schema import Schema
from controller.datastore.tree import WithDefaults
from controller.errors import ErrorTag, NetconfError
from controller.restconf.errors import HttpError, status_of
from controller.restconf.paths import percent_decode, resolve
from controller.restconf.query import field_xpaths, parse_fields, parse_query

SVC = "sdqn-services:entanglement-services"


@pytest.fixture(scope="module")
def index(schema: Schema) -> SchemaIndex:
    return SchemaIndex(schema)


def test_list_entry_with_percent_encoded_key(index: SchemaIndex) -> None:
    target = resolve(index, f"{SVC}/request=a%2Cb%2Fc%20d")
    assert target.path == f"/{SVC}/request[name='a,b/c d']"
    assert target.last.keys == (("name", "a,b/c d"),)
    # the Location form encodes the key again, so it resolves to the same target
    assert resolve(index, target.api_path()).path == target.path


def test_module_inherited_and_switched_by_augmentation(index: SchemaIndex) -> None:
    target = resolve(index, "ietf-network:networks/network=metro/node=alice/"
                            "sdqn-topology:quantum-node/coherence-time")
    assert target.path == ("/ietf-network:networks/network[network-id='metro']/"
                           "node[node-id='alice']/sdqn-topology:quantum-node/coherence-time")
    assert target.last.module == "sdqn-topology"
    assert target.last.kind == "leaf"


def test_key_with_quote_and_utf8(index: SchemaIndex) -> None:
    target = resolve(index, f"{SVC}/request=it%27s%20%C3%A9t%C3%A9")
    assert target.last.keys == (("name", "it's été"),)
    assert target.path.endswith('''request[name="it's été"]''')


def test_datastore_root(index: SchemaIndex) -> None:
    assert resolve(index, "").is_datastore
    assert resolve(index, "/").path == "/"


@pytest.mark.parametrize(("raw", "tag", "status"), [
    ("entanglement-services", ErrorTag.INVALID_VALUE, 400),         # no module prefix
    ("sdqn-services:nothing", ErrorTag.UNKNOWN_ELEMENT, 400),
    ("no-such-module:x", ErrorTag.UNKNOWN_NAMESPACE, 400),
    (f"{SVC}/request=a,b", ErrorTag.INVALID_VALUE, 400),            # one key, two values
    (f"{SVC}/request/name", ErrorTag.INVALID_VALUE, 400),           # list without keys
    (f"{SVC}/request=x/name/more", ErrorTag.UNKNOWN_ELEMENT, 400),  # below a leaf
    (f"{SVC}=x", ErrorTag.INVALID_VALUE, 400),                      # container with key
    (f"{SVC}/request=%zz", ErrorTag.INVALID_VALUE, 400),            # bad percent-encoding
    (f"{SVC}/request=%C3", ErrorTag.INVALID_VALUE, 400),            # truncated UTF-8
    (f"{SVC}//request=x", ErrorTag.INVALID_VALUE, 400),
    ("sdqn-services:1bad", ErrorTag.INVALID_VALUE, 400),
])
def test_bad_paths(index: SchemaIndex, raw: str, tag: ErrorTag, status: int) -> None:
    with pytest.raises(NetconfError) as exc:
        resolve(index, raw)
    assert exc.value.first.tag is tag
    assert status_of(exc.value) == status


def test_percent_decode_is_strict() -> None:
    assert percent_decode("a%41%2f", "x") == "aA/"
    with pytest.raises(NetconfError):
        percent_decode("100%", "x")


def test_fields_grammar() -> None:
    assert parse_fields("a(b;c/d(e;f));g/h") == [
        ["a", "b"], ["a", "c", "d", "e"], ["a", "c", "d", "f"], ["g", "h"]]
    for bad in ("a(b", "a;;b", "a()", "a)b", "/a"):
        with pytest.raises(NetconfError):
            parse_fields(bad)


def test_field_xpaths_are_schema_checked(index: SchemaIndex) -> None:
    target = resolve(index, SVC)
    assert field_xpaths(index, target, parse_fields("request(name;state/admission)")) == [
        f"/{SVC}/request/name", f"/{SVC}/request/state/admission"]
    with pytest.raises(NetconfError) as exc:
        field_xpaths(index, target, parse_fields("request/nope"))
    assert exc.value.first.tag is ErrorTag.UNKNOWN_ELEMENT
    root = field_xpaths(index, resolve(index, ""), [[SVC, "request"]])
    assert root == [f"/{SVC}/request"]


def test_query_parameters() -> None:
    q = parse_query("depth=2&content=config&with-defaults=report-all&with-origin", "GET")
    assert (q.depth, q.content, q.with_defaults, q.with_origin) == (
        2, "config", WithDefaults.REPORT_ALL, True)
    assert parse_query("depth=unbounded", "GET").depth is None
    assert parse_query("insert=before&point=x", "POST").point == "x"


@pytest.mark.parametrize(("raw", "method"), [
    ("depth=0", "GET"), ("depth=65536", "GET"), ("depth=x", "GET"), ("content=some", "GET"),
    ("with-defaults=all", "GET"), ("depth=1&depth=2", "GET"), ("bogus=1", "GET"),
    ("depth=1", "PUT"), ("insert=first", "GET"), ("with-origin=true", "GET"),
    ("insert=after", "POST"), ("point=x", "PUT"), ("start-time=2020", "GET"), ("a=%zz", "GET"),
])
def test_bad_query_parameters(raw: str, method: str) -> None:
    with pytest.raises(NetconfError) as exc:
        parse_query(raw, method)
    assert exc.value.first.tag is ErrorTag.INVALID_VALUE
    assert not isinstance(exc.value, HttpError) and status_of(exc.value) == 400
