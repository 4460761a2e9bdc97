"""YANG 1.1 actions (RFC 7950 §7.15), one decision path for every northbound.

NETCONF's <action> operation (RFC 7950 §7.15.2), a RESTCONF POST on an action resource
(RFC 8040 §3.6) and gRPC all hand a parsed action tree to `Actions.invoke`, so a user gets
the same answer whichever interface asks: NACM first (RFC 8341 §3.4: read access to the
ancestors, exec access to the action node), and only for a user who may run the action
whether the instance exists (data-missing, RFC 6241 Appendix A) — a user who may not run
it learns nothing about the data. The handler registered for the action's schema path
does the work; refused calls change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import libyang
from lxml import etree

from controller.datastore.nmda import Datastore
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.netconf.core import ActionCall, ServerCore
from controller.netconf.nacm import access_denied
from controller.netconf.paths import parse_path
from controller.netconf.xml import json_elements

#: RFC 7950 §7.15.2: the <action> operation's namespace
YANG_NS = "urn:ietf:params:xml:ns:yang:1"


def _ly_error(exc: libyang.LibyangError, what: str) -> NetconfError:
    """A libyang parse/validation failure as the RFC 6241 Appendix A error it is."""
    text = str(exc)
    tag = (ErrorTag.MISSING_ELEMENT if "Mandatory node" in text
           else ErrorTag.UNKNOWN_ELEMENT if "not found" in text else ErrorTag.INVALID_VALUE)
    return NetconfError(RpcError(tag=tag, type=ErrorType.APPLICATION,
                                 message=f"invalid {what}: {text}"))


class MissingInstance(NetconfError):
    """The node the action runs on does not exist (for this user): data-missing in
    NETCONF (RFC 6241 Appendix A), 404 Not Found in RESTCONF (RFC 8040 §3.6, §4.4.2)."""

    def __init__(self, instance: str, action: str) -> None:
        super().__init__(RpcError(tag=ErrorTag.DATA_MISSING, type=ErrorType.APPLICATION,
                                  path=instance,
                                  message=f"no instance {instance} to run {action} on"))
        self.instance = instance


class Actions:
    """Parses, authorises and runs the actions registered on a `ServerCore`."""

    def __init__(self, core: ServerCore) -> None:
        self.core = core

    # -- parsing -------------------------------------------------------------------------

    def parse_xml(self, action: etree._Element) -> libyang.DNode:
        """The child of <action>: the data tree down to one action node (RFC 7950
        §7.15.2). Returns the action node; the caller frees its root."""
        kids = [c for c in action if isinstance(c.tag, str)]
        if len(kids) != 1:
            raise NetconfError(RpcError(
                tag=ErrorTag.MISSING_ELEMENT if not kids else ErrorTag.BAD_ELEMENT,
                type=ErrorType.PROTOCOL, message="<action> holds exactly one data tree "
                "down to the action (RFC 7950 §7.15.2)", info=(("bad-element", "action"),)))
        text = etree.tostring(kids[0]).decode()
        return self._parse("xml", text)

    def parse_json(self, doc: Mapping[str, Any]) -> libyang.DNode:
        """An RFC 7951 tree down to the action node, whose members are the input."""
        return self._parse("json", json.dumps(doc))

    def _parse(self, fmt: str, text: str) -> libyang.DNode:
        ctx = self.core.store.schema.ctx
        try:
            node = ctx.parse_op(fmt, libyang.IOType.MEMORY, text, libyang.DataType.RPC_YANG)
        except libyang.LibyangError as exc:
            raise _ly_error(exc, "action request") from exc
        if node is None or not isinstance(node.schema(), libyang.SRpc) \
                or node.parent() is None:
            if node is not None:
                op_root(node).free()
            raise NetconfError(RpcError(tag=ErrorTag.UNKNOWN_ELEMENT,
                                        type=ErrorType.PROTOCOL,
                                        message="the request names no action of a data node",
                                        info=(("bad-element", "action"),)))
        return node

    # -- running -------------------------------------------------------------------------

    def invoke(self, username: str, node: libyang.DNode) -> tuple[str, dict[str, Any] | None]:
        """Authorise and run the action at `node` (freed here). Returns the action's
        module and its output members (None: no output)."""
        try:
            return self._invoke(username, node)
        finally:
            op_root(node).free()

    def _invoke(self, username: str, node: libyang.DNode) -> tuple[str, dict[str, Any] | None]:
        snode = node.schema()
        schema_path = _schema_path(snode)
        module = snode.module().name()
        path = node.path()
        parent = node.parent()
        assert parent is not None
        instance = parent.path()
        access = self.core.access(username)
        if access is not None:
            chain: list[Any] = []
            cursor: Any = snode
            while cursor is not None:
                chain.append(cursor)
                cursor = cursor.parent()
            chain.reverse()
            steps = parse_path(path)
            if len(steps) != len(chain) or not access.action_allowed(chain, steps):
                if self.core.nacm is not None:
                    self.core.nacm.denied_operations += 1
                raise access_denied(f"access to action {module}:{snode.name()} denied",
                                    type=ErrorType.PROTOCOL)
        handler = self.core.action_handlers.get(schema_path)
        if handler is None:
            raise NetconfError(RpcError(tag=ErrorTag.OPERATION_NOT_SUPPORTED,
                                        type=ErrorType.APPLICATION, path=path,
                                        message=f"action {module}:{snode.name()} is not "
                                        "supported", info=(("bad-element", snode.name()),)))
        try:
            node.validate_op(libyang.DataType.RPC_YANG)
        except libyang.LibyangError as exc:
            raise _ly_error(exc, f"input of {snode.name()}") from exc
        if not self._exists(instance, username):
            # RFC 6241 Appendix A data-missing: the node the action runs on is not there
            raise MissingInstance(instance, snode.name())
        keys = {child.name(): str(child.value()) for child in _children(parent)
                if isinstance(child.schema(), libyang.SLeaf) and child.schema().is_key()}
        doc: dict[str, Any] = json.loads(
            node.print_mem("json", with_siblings=False, pretty=False) or "{}")
        members: dict[str, Any] = next(iter(doc.values()), {}) if doc else {}
        call = ActionCall(username=username, instance=instance, keys=keys,
                          input=members or {})
        return module, handler(call)

    def _exists(self, instance: str, username: str) -> bool:
        """In <operational> as the user may read it (a hidden node is a missing one,
        RFC 8341 §3.4.5)."""
        forest = self.core.read(Datastore.OPERATIONAL, [instance], username=username)
        try:
            return any(True for _ in forest.find_xpath(instance))
        finally:
            forest.free()

    def reply_elements(self, module: str, output: Mapping[str, Any] | None
                       ) -> list[etree._Element] | None:
        """RFC 7950 §7.15.2: the output nodes are the children of <rpc-reply>."""
        if not output:
            return None
        namespace = self.core.namespace_of(module) or ""
        return json_elements(output, namespace)


def op_root(node: libyang.DNode) -> libyang.DNode:
    """The top of the tree an operation node was parsed into (what has to be freed)."""
    parent = node.parent()
    while parent is not None:
        node, parent = parent, parent.parent()
    return node


def _children(node: libyang.DNode) -> list[Any]:
    return list(node.children()) if hasattr(node, "children") else []


def _schema_path(snode: libyang.SNode) -> str:
    """"/module:top/child/.../action": the key `ServerCore.action_handlers` uses."""
    names: list[str] = []
    module = None
    cursor: Any = snode
    parts: list[libyang.SNode] = []
    while cursor is not None:
        parts.append(cursor)
        cursor = cursor.parent()
    for part in reversed(parts):
        owner = part.module().name()
        names.append(part.name() if owner == module else f"{owner}:{part.name()}")
        module = owner
    return "/" + "/".join(names)
