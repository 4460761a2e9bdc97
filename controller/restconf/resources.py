"""The RESTCONF resource tree (RFC 8040 §3, NMDA RFC 8527 §3), independent of HTTP I/O.

    /.well-known/host-meta                 root discovery (RFC 8040 §3.1, RFC 6415)
    /restconf                              API root, yang-library-version
    /restconf/data[/api-path]              the unified datastore: reads <operational>
                                           (content=config reads <running>), writes <running>
    /restconf/ds/ietf-datastores:<name>[/api-path]   one NMDA datastore (RFC 8527 §3.1)
    /restconf/operations[/module:rpc]      rpcs (RFC 8040 §3.6)
    /restconf/streams/<stream>/json        SSE event stream (RFC 8040 §6)

`Restconf.handle` maps one authenticated request to a `Response`; the HTTP server only
moves bytes. Writes become RFC 7951 edit documents for the engine (bodies.py), reads
XPath selections of the datastore (paths.Target.path), both through `DataAccess`, so
NACM and the store behave exactly as for NETCONF.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote as url_quote

import libyang

from controller.datastore.anydata import encode_for_xml
from controller.datastore.editnode import Operation
from controller.datastore.ly import ffi, lib
from controller.datastore.nmda import WRITABLE, Datastore
from controller.datastore.tree import Forest, WithDefaults, is_default
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.netconf import views
from controller.netconf.actions import Actions, MissingInstance
from controller.restconf import bodies, media
from controller.restconf.access import DataAccess
from controller.restconf.clock import ResourceClock
from controller.restconf.conditions import Validators, evaluate, precondition_failed
from controller.restconf.entity import EntityTags, datastore_of
from controller.restconf.errors import RESTCONF_NS, http_error
from controller.restconf.events import EventHub
from controller.restconf.operations import NetconfOperations, RpcHandler, xml_input
from controller.restconf.paths import Target, invalid, not_found, resolve
from controller.restconf.query import Query, field_xpaths, parse_query
from controller.restconf.streamfilter import (
    EventFilter,
    StreamQuery,
    event_time,
    parse_stream_query,
)
from controller.restconf.yangpatch import YangPatch, anchor_meta, status_xml

YANG_LIBRARY_VERSION = "2019-01-04"   # RFC 8525
DS_PREFIX = "ietf-datastores:"
_ORIGIN_META = "ietf-origin:origin"
_DATA_ALLOW = "OPTIONS, HEAD, GET, POST, PUT, PATCH, DELETE"
_READ_ALLOW = "OPTIONS, HEAD, GET"
_CONDITIONS = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")
_ACCEPT_PATCH = ", ".join((media.YANG_JSON, media.YANG_XML, media.PATCH_JSON, media.PATCH_XML))


@dataclass
class Request:
    method: str
    path: str                      # request-target path, still percent-encoded
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)   # lower-case names
    body: bytes = b""
    username: str = ""


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None


@dataclass(frozen=True)
class View:
    """Which datastore a resource tree reads and writes."""

    read: Datastore
    write: Datastore | None
    unified: bool = False      # {+restconf}/data

    def read_ds(self, query: Query) -> Datastore:
        if self.unified and query.content == "config":
            return Datastore.RUNNING
        return self.read


UNIFIED = View(Datastore.OPERATIONAL, Datastore.RUNNING, unified=True)


class Restconf:
    def __init__(self, access: DataAccess, *, hub: EventHub | None = None,
                 extra_rpcs: Mapping[str, RpcHandler] | None = None,
                 sse_heartbeat_s: float = 15.0) -> None:
        self.access = access
        self.store = access.store
        self.index = access.store.index
        self.hub = hub
        self.rpcs: dict[str, RpcHandler] = {**NetconfOperations(access).table(),
                                            **(extra_rpcs or {})}
        self.patcher = YangPatch(access)
        self.actions = Actions(access.core)
        self.tags = EntityTags(access)
        self.clock = ResourceClock(access.store)
        self.sse_heartbeat_s = sse_heartbeat_s
        self.streams_open = 0
        self.stopping = threading.Event()

    def close(self) -> None:
        self.clock.close()

    def namespace_of(self, module: str) -> str | None:
        return self.access.core.namespace_of(module)

    # -- routing -------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        path = req.path
        if path == "/restconf" or path == "/restconf/":
            return self._api_root(req)
        if path == "/restconf/yang-library-version":
            self._only(req, _READ_ALLOW)
            return self._json_or_xml(req, {"ietf-restconf:yang-library-version":
                                           YANG_LIBRARY_VERSION})
        if path == "/restconf/data" or path.startswith("/restconf/data/"):
            return self._data(req, UNIFIED, path[len("/restconf/data/"):])
        if path.startswith("/restconf/ds/"):
            name, _, rest = path[len("/restconf/ds/"):].partition("/")
            return self._data(req, self._datastore(name), rest)
        if path == "/restconf/operations" or path.startswith("/restconf/operations/"):
            return self._operations(req, path[len("/restconf/operations/"):])
        if path.startswith("/restconf/streams/"):
            return self._stream(req, path[len("/restconf/streams/"):])
        raise not_found(f"no resource {path!r}")

    def _datastore(self, name: str) -> View:
        """RFC 8527 §3.1: {+restconf}/ds/<datastore identity>."""
        if not name.startswith(DS_PREFIX):
            raise not_found(f"datastore {name!r} must be named ietf-datastores:<name>")
        try:
            ds = Datastore(name[len(DS_PREFIX):])
        except ValueError:
            raise not_found(f"no datastore {name!r}") from None
        return View(ds, ds if ds in WRITABLE else None)

    @staticmethod
    def _only(req: Request, allow: str) -> None:
        if req.method not in allow.split(", "):
            raise method_not_allowed(req.method, allow)

    def _api_root(self, req: Request) -> Response:
        """RFC 8040 §3.3."""
        if req.method == "OPTIONS":
            return Response(200, headers={"Allow": _READ_ALLOW})
        self._only(req, _READ_ALLOW)
        root = {"ietf-restconf:restconf": {"data": {}, "operations": {},
                                           "yang-library-version": YANG_LIBRARY_VERSION}}
        return self._json_or_xml(req, root)

    def _json_or_xml(self, req: Request, doc: dict[str, Any]) -> Response:
        if media.response_xml(req.headers.get("accept")):
            (name, value), = doc.items()
            local = name.partition(":")[2]
            inner = "".join(f"<{k}>{v if isinstance(v, str) else ''}</{k}>"
                            for k, v in value.items()) if isinstance(value, dict) else value
            return Response(200, f'<{local} xmlns="{RESTCONF_NS}">{inner}</{local}>'.encode(),
                            media.YANG_XML)
        return Response(200, json.dumps(doc).encode(), media.YANG_JSON)

    # -- data resources ----------------------------------------------------------------------

    def _data(self, req: Request, view: View, raw_path: str) -> Response:
        target = resolve(self.index, raw_path)
        if target.steps and isinstance(target.last.snode, libyang.SRpc):
            return self._action(req, view, target)
        query = parse_query(req.query, req.method)
        method = req.method
        allow = _DATA_ALLOW if view.write is not None else _READ_ALLOW
        if method == "OPTIONS":
            headers = {"Allow": allow}
            if view.write is not None:
                headers["Accept-Patch"] = _ACCEPT_PATCH
            return Response(200, headers=headers)
        if method in ("GET", "HEAD"):
            response = self._get(req, view, target, query)
            if method == "HEAD":
                response.body = b""
            return response
        if view.write is None or method not in allow.split(", "):
            raise method_not_allowed(method, allow)
        # The preconditions and the edit are one step: nothing changes in between.
        with self.store.atomic():
            self._check_preconditions(req, view, target)
            if method == "PUT":
                response = self._put(req, view.write, target, query)
            elif method == "POST":
                response = self._post(req, view.write, target, query)
            elif method == "PATCH":
                response = self._patch(req, view.write, target)
            else:
                response = self._delete(req, view.write, target)
        return response

    def _validators(self, ds: Datastore, target: Target, user: str) -> Validators:
        """RFC 8040 §3.4.1.2-3, §3.5.1-2: the entity-tag and last-modified time of the
        resource itself, not of its datastore (entity.py, clock.py)."""
        tag = self.tags.tag(ds, target, user, lambda: self._exists_in(ds, target, user))
        return Validators(tag, None if tag is None else self.clock.modified(ds, target.path))

    def _written(self, response: Response, ds: Datastore, target: Target, user: str
                 ) -> Response:
        """A successful edit answers with the resource's new validators (RFC 8040
        §4.4.1, §4.5, §4.6: the client can go on editing with If-Match)."""
        if 200 <= response.status < 300:
            response.headers.update(self._validators(ds, target, user).headers())
        return response

    def _check_preconditions(self, req: Request, view: View, target: Target) -> None:
        """If-Match / If-None-Match / If-Unmodified-Since on an edit (RFC 8040 §3.4.1.1,
        RFC 7232 §6), against the target resource in the datastore edited. A tag taken
        from <operational> through {+restconf}/data is compared with the resource's
        current <operational> tag."""
        if not any(h in req.headers for h in _CONDITIONS):
            return
        assert view.write is not None
        ds = view.write
        current = self._validators(ds, target, req.username)

        def is_current(tag: str) -> bool:
            source = datastore_of(tag)
            if source is ds:
                return tag == current.etag
            if view.unified and source is Datastore.OPERATIONAL:
                return tag == self.tags.tag(
                    source, target, req.username,
                    lambda: self._exists_in(source, target, req.username))
            return False

        if evaluate(req.method, req.headers, exists=current.etag is not None,
                    current=is_current, modified=current.modified) is not None:
            raise precondition_failed(req.method, target.path)

    # -- GET -------------------------------------------------------------------------------

    def _get(self, req: Request, view: View, target: Target, query: Query) -> Response:
        ds = view.read_ds(query)
        if query.with_origin and (view.unified or ds is not Datastore.OPERATIONAL):
            raise invalid("with-origin applies to {+restconf}/ds/ietf-datastores:operational "
                          "only (RFC 8527 §3.2.2)")
        # RFC 8040 §3.4.1.2: the tag of {+restconf}/data is running's (what PUT and PATCH
        # change); a resource below it carries the tag of the datastore it is read from.
        source = Datastore.RUNNING if view.unified and target.is_datastore else ds
        validators = self._validators(source, target, req.username)
        if validators.etag is not None and any(h in req.headers for h in _CONDITIONS):
            # RFC 7232 §5: a resource that does not exist is a 404, whatever the conditions.
            status = evaluate(req.method, req.headers, exists=True,
                              current=lambda tag: tag == validators.etag,
                              modified=validators.modified,
                              may_not_modify=source is ds)
            if status == 304:
                return Response(304, headers=validators.headers())
            if status is not None:
                raise precondition_failed(req.method, target.path)
        xml = media.response_xml(req.headers.get("accept"))
        body = self._read(ds, target, query, req.username, xml)
        return Response(200, body, media.YANG_XML if xml else media.YANG_JSON,
                        headers=validators.headers())

    def _read(self, ds: Datastore, target: Target, query: Query, user: str, xml: bool
              ) -> bytes:
        fields = field_xpaths(self.index, target, query.fields) if query.fields else None
        xpaths = fields or (None if target.is_datastore else [target.path])
        if fields is None and len(target.steps) > 1 \
                and query.with_defaults is not WithDefaults.EXPLICIT:
            xpaths = [target.parent.path]  # the target may be a default not yet in the copy
        forest = self.access.read(ds, xpaths, user, with_origin=query.with_origin)
        try:
            if query.with_defaults is not WithDefaults.EXPLICIT:
                _add_defaults(forest)
            if query.content != "all":
                views.filter_config(forest, query.content == "config")
            if query.depth is not None:
                selected = " | ".join(fields) if fields else (
                    None if target.is_datastore else target.path)
                views.limit_depth(forest, query.depth, selected)
            keep_empty = query.depth is not None or query.fields is not None
            if target.is_datastore:
                return self._print_datastore(forest, query.with_defaults, xml, keep_empty)
            nodes = forest.find_xpath(target.path)
            if not nodes and fields:
                forest.free()
                forest = self.access.read(ds, [target.path], user,
                                          with_origin=query.with_origin)
                views.limit_depth(forest, 1, target.path)
                nodes = forest.find_xpath(target.path)
            if not nodes:
                raise not_found(f"{target.path} does not exist", target.path)
            if query.with_origin:
                for node in nodes:
                    _pin_origin(forest, node)
            if xml:  # device data in anydata: in the device modules' own XML
                encode_for_xml(forest)
            return self._print_nodes(nodes, target, query.with_defaults, xml, keep_empty)
        finally:
            forest.free()

    @staticmethod
    def _print_datastore(forest: Forest, wd: WithDefaults, xml: bool, keep_empty: bool
                         ) -> bytes:
        """RFC 8040 §3.3.1: the datastore is an ietf-restconf:data container."""
        if xml:
            inner = views.print_xml(forest, wd, keep_empty=keep_empty)
            return f'<data xmlns="{RESTCONF_NS}">'.encode() + inner + b"</data>"
        text = b"{}" if forest.first == ffi.NULL else _print(forest.first, lib.LYD_JSON, wd,
                                                              keep_empty, siblings=True)
        return b'{"ietf-restconf:data":' + text + b"}"

    def _print_nodes(self, nodes: list[Any], target: Target, wd: WithDefaults, xml: bool,
                     keep_empty: bool) -> bytes:
        if xml:
            if len(nodes) > 1:
                raise invalid(f"{target.path} has {len(nodes)} instances; XML cannot carry "
                              "them in one document: name one (keys) or ask for JSON")
            return _print(nodes[0], lib.LYD_XML, wd, keep_empty)
        if len(nodes) == 1:
            return _print(nodes[0], lib.LYD_JSON, wd, keep_empty)
        merged: dict[str, Any] = {}
        for node in nodes:
            part = json.loads(_print(node, lib.LYD_JSON, wd, keep_empty))
            for name, value in part.items():
                if isinstance(value, list):
                    merged.setdefault(name, []).extend(value)
                else:
                    merged[name] = value
        return json.dumps(merged).encode()

    # -- bodies --------------------------------------------------------------------------------

    def _body_members(self, req: Request, placement: Target, *, datastore_body: bool
                      ) -> dict[str, Any]:
        """The request body as RFC 7951 members placed under `placement`."""
        kind = media.request_type(req.headers.get("content-type"),
                                  (media.YANG_JSON, media.YANG_XML))
        if kind == media.YANG_JSON:
            doc = bodies.parse_json(req.body)
            if datastore_body:
                data = doc.get("ietf-restconf:data")
                if len(doc) != 1 or not isinstance(data, dict):
                    raise invalid("a datastore body is one ietf-restconf:data object "
                                  "(RFC 8040 §4.5)")
                return data
            return doc
        root = bodies.parse_xml(req.body)
        if datastore_body:
            return bodies.datastore_xml_members(self.store.schema, root)
        return bodies.xml_to_json(self.store.schema, placement, [root])

    def _edit(self, ds: Datastore, doc: dict[str, Any], user: str,
              default: Operation = Operation.NONE) -> None:
        self.access.edit(ds, self.store.parse_json(doc), user, default_operation=default)

    def _exists(self, ds: Datastore, target: Target, user: str) -> bool:
        """Instantiated (a default leaf the client never set does not count); a
        non-presence container exists whenever its parent does (RFC 7950 §7.5.1). A
        node the user's access hides (another tenant's) does not exist for the user
        (RFC 8341 §3.4.5), so the answer is the same as for an absent one."""
        if target.is_datastore:
            return True
        snode = target.last.snode
        if isinstance(snode, libyang.SContainer) and not snode.presence():
            return self._exists(ds, target.parent, user)
        access = self.access.access(user)
        with self.store.atomic():
            forest = self.store.forest(ds)
            if access is not None and access.hides(forest, target.path):
                return False
            return any(not is_default(n) for n in forest.find_xpath(target.path))

    def _exists_in(self, ds: Datastore, target: Target, user: str) -> bool:
        """`_exists` for any datastore: <operational> has no forest of its own here, and a
        resource it shows no node of is not there."""
        return ds is not Datastore.OPERATIONAL and self._exists(ds, target, user)

    def _insert_meta(self, target: Target, query: Query) -> dict[str, str]:
        """RFC 8040 §4.8.5-6 insert/point for ordered-by user lists and leaf-lists."""
        if query.insert is None:
            return {}
        meta = {"yang:insert": query.insert}
        if query.point is not None:
            point = resolve(self.index, query.point.lstrip("/").removeprefix("restconf/data/"))
            meta.update(anchor_meta(target, point))
        return meta

    @staticmethod
    def _instance(target: Target, method: str) -> None:
        step = target.last
        if step.kind in ("list", "leaf-list") and not step.has_instance:
            raise invalid(f"{method} needs one instance of {step.name!r}: give its "
                          "key(s) in the path (RFC 8040 §3.5.3)", path=target.path)

    # -- PUT / POST / PATCH / DELETE --------------------------------------------------------

    def _put(self, req: Request, ds: Datastore, target: Target, query: Query) -> Response:
        """RFC 8040 §4.5: create or replace the target resource."""
        if target.is_datastore:
            members = self._body_members(req, target, datastore_body=True)
            self.access.replace(ds, json.dumps(members), "json", req.username)
            return self._written(Response(204), ds, target, req.username)
        self._instance(target, "PUT")
        members = self._body_members(req, target.parent, datastore_body=False)
        value = bodies.target_body(target, members)
        existed = self._exists(ds, target, req.username)
        doc = bodies.edit_document(target, Operation.REPLACE, value,
                                   self._insert_meta(target, query))
        self._edit(ds, doc, req.username)
        return self._written(Response(204 if existed else 201), ds, target, req.username)

    def _post(self, req: Request, ds: Datastore, target: Target, query: Query) -> Response:
        """RFC 8040 §4.4.1: create one child resource of the target."""
        if not target.is_datastore:
            if target.last.kind not in ("container", "list"):
                raise invalid(f"{target.last.name!r} has no child resources to create",
                              path=target.path)
            self._instance(target, "POST")
            if not self._exists(ds, target, req.username):
                raise not_found(f"{target.path} does not exist", target.path)
        members = self._body_members(req, target, datastore_body=False)
        child = self._child_target(target, members)
        doc, _, _ = bodies.child_document(target, members, Operation.CREATE,
                                          self._insert_meta(child, query))
        self._edit(ds, doc, req.username)
        base = "/restconf/data" if ds is Datastore.RUNNING and req.path.startswith(
            "/restconf/data") else f"/restconf/ds/{DS_PREFIX}{ds.value}"
        return self._written(Response(201, headers={"Location": f"{base}/{child.api_path()}"}),
                             ds, child, req.username)

    def _child_target(self, target: Target, members: dict[str, Any]) -> Target:
        names = [k for k in members if not k.startswith("@")]
        if len(names) != 1:
            raise invalid("a POST body must contain exactly one child resource "
                          f"(RFC 8040 §4.4.1), got {len(names)}")
        value = members[names[0]]
        api = target.api_path()
        segment = names[0]
        if isinstance(value, list) and len(value) == 1:
            entry = value[0]
            probe = resolve(self.index, f"{api}/{segment}".lstrip("/"))
            step = probe.last
            if step.kind == "list" and isinstance(entry, dict):
                from controller.restconf.paths import key_names

                keys = []
                for key in key_names(step.snode):
                    if key not in entry:
                        raise NetconfError(RpcError(
                            tag=ErrorTag.MISSING_ELEMENT, type=ErrorType.PROTOCOL,
                            message=f"list {step.name!r} entry lacks key {key!r}",
                            info=(("bad-element", key),)))
                    keys.append(url_quote(bodies._scalar(entry[key]), safe=""))
                segment += "=" + ",".join(keys)
            elif step.kind == "leaf-list":
                segment += "=" + url_quote(bodies._scalar(entry), safe="")
        return resolve(self.index, f"{api}/{segment}".lstrip("/"))

    def _patch(self, req: Request, ds: Datastore, target: Target) -> Response:
        content_type = media.request_type(
            req.headers.get("content-type"),
            (media.YANG_JSON, media.YANG_XML, media.PATCH_JSON, media.PATCH_XML))
        if content_type in (media.PATCH_JSON, media.PATCH_XML):
            return self._yang_patch(req, ds, target, content_type)
        if target.is_datastore:  # RFC 8040 §4.6.1 on the datastore: merge the whole body
            members = self._body_members(req, target, datastore_body=True)
            self._edit(ds, members, req.username, Operation.MERGE)
            return self._written(Response(204), ds, target, req.username)
        self._instance(target, "PATCH")
        if not self._exists(ds, target, req.username):
            # RFC 8040 §4.6.1: a plain patch must not create the target resource.
            raise NetconfError(RpcError(tag=ErrorTag.DATA_MISSING, type=ErrorType.APPLICATION,
                                        message=f"{target.path} does not exist",
                                        path=target.path))
        members = self._body_members(req, target.parent, datastore_body=False)
        value = bodies.target_body(target, members)
        self._edit(ds, bodies.edit_document(target, Operation.MERGE, value), req.username)
        return self._written(Response(204), ds, target, req.username)

    def _yang_patch(self, req: Request, ds: Datastore, target: Target, kind: str
                    ) -> Response:
        """RFC 8072 §2: one transaction of ordered edits, answered by yang-patch-status."""
        if kind == media.PATCH_JSON:
            from controller.restconf.yangpatch import parse_json_patch

            patch = parse_json_patch(bodies.parse_json(req.body))
        else:
            patch = self.patcher.parse_xml(target, bodies.parse_xml(req.body))
        result = self.patcher.apply(ds, target, patch, req.username)
        if media.response_xml(req.headers.get("accept"), kind):
            response = Response(result.status, status_xml(result.body, self.namespace_of),
                                media.YANG_XML)
        else:
            response = Response(result.status, json.dumps(result.body).encode(),
                                media.YANG_JSON)
        return self._written(response, ds, target, req.username)

    def _delete(self, req: Request, ds: Datastore, target: Target) -> Response:
        """RFC 8040 §4.7 (a missing resource is data-missing, RFC 6241 §7.2 delete)."""
        if target.is_datastore:
            raise method_not_allowed("DELETE", "OPTIONS, HEAD, GET, POST, PUT, PATCH")
        self._instance(target, "DELETE")
        self._edit(ds, bodies.edit_document(target, Operation.DELETE, None), req.username)
        return Response(204)

    # -- actions (RFC 8040 §3.6, YANG 1.1 actions) -------------------------------------------

    def _action(self, req: Request, view: View, target: Target) -> Response:
        """POST {+restconf}/data/<path to the action> with {"module:input": {...}}: 200 with
        "module:output", 204 without. The NACM exec check comes before the instance
        lookup (controller.netconf.actions), so a user who may not run the action gets
        403 whether the instance exists or not, one who may gets 404 for a missing one."""
        if not view.unified and view.read is not Datastore.OPERATIONAL:
            # RFC 8527 §3.1: actions run on {+restconf}/data or the operational datastore
            raise method_not_allowed(req.method, "OPTIONS")
        if req.method == "OPTIONS":
            return Response(200, headers={"Allow": "OPTIONS, POST"})
        if req.method != "POST":
            raise method_not_allowed(req.method, "OPTIONS, POST")
        for step in target.steps[:-1]:
            self._instance(Target((step,)), "an action")
        module = target.last.module
        members, request_media = self._input(req, module)
        node = self.actions.parse_json(self._action_document(target, members))
        try:
            module, output = self.actions.invoke(req.username, node)
        except MissingInstance as missing:
            raise not_found(str(missing), missing.instance) from None
        return self._output(req, request_media, module, target.last.name, output or None)

    def _action_document(self, target: Target, members: dict[str, Any]) -> dict[str, Any]:
        """The RFC 7951 tree down to the action with `members` as its input; libyang
        builds the ancestors from the path, so keys get their types' JSON encoding."""
        try:
            top = self.store.schema.ctx.create_data_path(target.path)
        except libyang.LibyangError as exc:
            raise invalid(f"cannot address {target.path}: {exc}", path=target.path) from exc
        assert top is not None
        try:
            doc: dict[str, Any] = json.loads(top.print_mem("json", with_siblings=True,
                                                           pretty=False))
        finally:
            top.free()
        name = target.last.name
        member = name if len(target.steps) > 1 and target.steps[-2].module == \
            target.last.module else f"{target.last.module}:{name}"

        def fill(obj: Any) -> bool:
            if isinstance(obj, dict):
                if member in obj and obj[member] == {}:
                    obj[member] = members
                    return True
                return any(fill(v) for v in obj.values())
            if isinstance(obj, list):
                return any(fill(v) for v in obj)
            return False

        fill(doc)
        return doc

    # -- operations ----------------------------------------------------------------------------

    def _input(self, req: Request, module: str) -> tuple[dict[str, Any], str | None]:
        """An operation's or action's input members and the request's media type (None
        without a body): one "<module>:input" object in JSON, or the XML input element
        (RFC 8040 §3.6.1)."""
        if not req.body.strip():
            return {}, None
        request_media = media.request_type(req.headers.get("content-type"),
                                           (media.YANG_JSON, media.YANG_XML))
        if request_media == media.YANG_JSON:
            doc = bodies.parse_json(req.body)
            wrapper = f"{module}:input"
            if list(doc) != [wrapper] or not isinstance(doc[wrapper], dict):
                raise invalid(f"the input must be one {wrapper!r} object (RFC 8040 §3.6.1)")
            return doc[wrapper], request_media
        return (xml_input(bodies.parse_xml(req.body), self.namespace_of(module) or "",
                          self.access.core.module_of), request_media)

    def _operations(self, req: Request, name: str) -> Response:
        if not name:
            self._only(req, _READ_ALLOW)
            if req.method == "OPTIONS":
                return Response(200, headers={"Allow": _READ_ALLOW})
            listing = {"ietf-restconf:operations": {n: [None] for n in sorted(self.rpcs)}}
            if media.response_xml(req.headers.get("accept")):
                inner = "".join(f'<{local} xmlns="{self.namespace_of(module) or ""}"/>'
                                for module, _, local in (n.partition(":")
                                                         for n in sorted(self.rpcs)))
                return Response(200, f'<operations xmlns="{RESTCONF_NS}">{inner}</operations>'
                                .encode(), media.YANG_XML)
            return Response(200, json.dumps(listing).encode(), media.YANG_JSON)
        module, sep, rpc = name.partition(":")
        handler = self.rpcs.get(name)
        if not sep or handler is None:
            raise not_found(f"no operation {name!r}")
        if req.method == "OPTIONS":
            return Response(200, headers={"Allow": "OPTIONS, POST"})
        if req.method != "POST":
            raise method_not_allowed(req.method, "OPTIONS, POST")
        self.access.require_rpc(req.username, module, rpc)
        args, request_media = self._input(req, module)
        output = handler(req.username, args)
        return self._output(req, request_media, module, name, output)

    @staticmethod
    def _output(req: Request, request_media: str | None, module: str, name: str,
                output: dict[str, Any] | None) -> Response:
        """An operation's or action's answer (RFC 8040 §3.6.2): 204 without output, else
        "module:output" in JSON (XML output is not produced: 406 names the operation)."""
        if output is None:
            return Response(204)
        if media.response_xml(req.headers.get("accept"), request_media):
            raise http_error(406, ErrorTag.INVALID_VALUE,
                             f"{name} output is available as {media.YANG_JSON} only")
        return Response(200, json.dumps({f"{module}:output": output}).encode(),
                        media.YANG_JSON)

    # -- event streams (RFC 8040 §6) -----------------------------------------------------------

    def _stream(self, req: Request, rest: str) -> Response:
        stream, _, encoding = rest.partition("/")
        if self.hub is None or stream != "NETCONF" or encoding != "json":
            raise not_found(f"no event stream {rest!r} (streams: NETCONF/json)")
        self._only(req, "GET")
        accept = req.headers.get("accept", media.EVENT_STREAM)
        if media.EVENT_STREAM not in accept and "*/*" not in accept:
            raise http_error(406, ErrorTag.INVALID_VALUE,
                             f"an event stream is {media.EVENT_STREAM} (RFC 8040 §6.3)")
        stream_query = parse_stream_query(req.query)
        access = self.access.access(req.username)
        matches = (EventFilter(stream_query.filter, self._module_namespaces()).matches
                   if stream_query.filter else None)
        stop = stream_query.stop

        def allowed(event: Any) -> bool:
            if access is not None and not (
                    access.notification_allowed(event.module, event.name)
                    and access.notification_visible(event.module, event.name, event.body)):
                return False
            if stop is not None and event_time(event.event_time) > stop:
                return False
            return matches is None or matches({event.qualified: event.body})

        replay = self._replay(req.headers.get("last-event-id"), stream_query)
        subscription = self.hub.subscribe(allowed, replay=replay)
        return Response(200, content_type=media.EVENT_STREAM,
                        headers={"Cache-Control": "no-cache"},
                        stream=self._sse(subscription, stop))

    def _replay(self, last_event_id: str | None, query: StreamQuery
                ) -> Callable[[Any], bool] | None:
        """SSE resumption (Last-Event-ID: the retained events after it) and RFC 8040
        §4.8.7 start-time (the retained events from then on)."""
        if last_event_id is not None and last_event_id.strip():
            text = last_event_id.strip()
            if not text.isdigit():
                raise invalid(f"Last-Event-ID {text!r} is not an event id of this stream")
            after = int(text)
            return lambda event: event.event_id > after
        start = query.start
        if start is not None:
            return lambda event: event_time(event.event_time) >= start
        return None

    def _module_namespaces(self) -> dict[str, str]:
        found = ((m.name(), self.namespace_of(m.name())) for m in self.store.schema.ctx)
        return {name: ns for name, ns in found if ns is not None}

    def _sse(self, subscription: Any, stop: datetime.datetime | None = None
             ) -> Iterator[bytes]:
        """text/event-stream: one event per notification, its hub id as the SSE id (for
        Last-Event-ID), a comment line as heartbeat (so a vanished client is noticed);
        ended by server stop, or once stop-time has passed (RFC 8040 §4.8.8)."""
        self.streams_open += 1
        try:
            yield b": sdqn event stream\n\n"
            quiet_since = time.monotonic()
            while not self.stopping.is_set():
                if stop is not None and datetime.datetime.now(datetime.UTC) > stop \
                        and subscription.empty():
                    return
                event = subscription.get(min(0.5, self.sse_heartbeat_s))
                if event is not None:
                    quiet_since = time.monotonic()
                    yield (f"id: {event.event_id}\n".encode() + b"data: "
                           + json.dumps(event.to_restconf()).encode() + b"\n\n")
                elif time.monotonic() - quiet_since >= self.sse_heartbeat_s:
                    quiet_since = time.monotonic()
                    yield b": keep-alive\n\n"
        finally:
            self.streams_open -= 1
            subscription.close()


def method_not_allowed(method: str, allow: str) -> NetconfError:
    """RFC 9110 §15.5.6: a 405 names the allowed methods."""
    return http_error(405, ErrorTag.OPERATION_NOT_SUPPORTED,
                      f"{method} is not allowed on this resource (allowed: {allow})",
                      headers={"Allow": allow})


_WD = {WithDefaults.EXPLICIT: lib.LYD_PRINT_WD_EXPLICIT, WithDefaults.TRIM: lib.LYD_PRINT_WD_TRIM,
       WithDefaults.REPORT_ALL: lib.LYD_PRINT_WD_ALL,
       WithDefaults.REPORT_ALL_TAGGED: lib.LYD_PRINT_WD_ALL_TAG}
_LY_WD_NS = b'"urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"'
_WD_ATTRIBUTE_NS = b'"urn:ietf:params:xml:ns:netconf:default:1.0"'


def _print(node: Any, fmt: int, wd: WithDefaults, keep_empty: bool, *,
           siblings: bool = False) -> bytes:
    """One node (or a forest) as libyang prints it; `keep_empty` shows the containers
    depth/fields emptied on purpose."""
    flags = _WD[wd] | lib.LYD_PRINT_SHRINK
    if siblings:
        flags |= lib.LYD_PRINT_WITHSIBLINGS
    if keep_empty:
        flags |= lib.LYD_PRINT_KEEPEMPTYCONT
    buf = ffi.new("char **")
    if lib.lyd_print_mem(buf, node, fmt, flags) != 0 or buf[0] == ffi.NULL:
        return b"{}" if fmt == lib.LYD_JSON else b""
    try:
        text = bytes(ffi.string(buf[0]))
    finally:
        lib.free(buf[0])
    if fmt == lib.LYD_XML and wd is WithDefaults.REPORT_ALL_TAGGED:
        # RFC 8040 §4.8.9: the "default" attribute of the netconf:default:1.0 namespace
        text = text.replace(_LY_WD_NS, _WD_ATTRIBUTE_NS)
    return text


def _add_defaults(forest: Forest) -> None:
    """Only validated datastores hold their default nodes; candidate, intended and
    <operational> copies get them here so that report-all/trim see them (RFC 6243 §3)."""
    if forest.first == ffi.NULL:
        return
    tree = ffi.new("struct lyd_node **", forest.first)
    if lib.lyd_new_implicit_all(tree, forest.schema.ctx.cdata, 0, ffi.NULL) == 0:
        forest.first = lib.lyd_first_sibling(tree[0])


def _pin_origin(forest: Forest, node: Any) -> None:
    """Printed alone, a node would lose the origin it inherits from an ancestor
    (RFC 8342 §5.3.4): copy the nearest one onto it."""
    ctx = forest.schema.ctx.cdata
    if views.origin_of(node, ctx) is not None:
        return
    parent = node.parent
    while parent != ffi.NULL:
        found = views.origin_of(ffi.cast("struct lyd_node *", parent), ctx)
        if found is not None:
            lib.lyd_new_meta(ffi.NULL, node, ffi.NULL, _ORIGIN_META.encode(), found.encode(),
                             False, ffi.NULL)
            return
        parent = parent.parent

