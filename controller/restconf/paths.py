"""RESTCONF target resources: RFC 8040 §3.5.3 api-paths resolved against the schema.

An api-path names data the way RFC 7951 names JSON members ("module:name", the module
inherited by unqualified children) with list keys after "=" (comma-separated,
percent-encoded, all keys in schema order) and leaf-list values the same way. Resolving
it here, once, against the schema index gives every later stage what it needs: the
libyang data path for reads and existence checks, the schema nodes for building edit
documents, and precise errors for paths that cannot name anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote as url_quote

import libyang

from controller.datastore.editnode import quote
from controller.datastore.editparse import SchemaIndex
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError
from controller.restconf.errors import HttpError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")


def invalid(message: str, *, path: str | None = None,
            tag: ErrorTag = ErrorTag.INVALID_VALUE) -> NetconfError:
    return NetconfError(RpcError(tag=tag, type=ErrorType.PROTOCOL, message=message, path=path))


def not_found(message: str, path: str | None = None) -> HttpError:
    """The URI names no resource (RFC 8040 §7: a 404 carries error-tag invalid-value)."""
    return HttpError(404, RpcError(tag=ErrorTag.INVALID_VALUE, type=ErrorType.PROTOCOL,
                                   message=message, path=path))


def percent_decode(text: str, what: str) -> str:
    """Strict RFC 3986 §2.1 decoding: a '%' must start a hex pair, the bytes UTF-8."""
    if "%" in text and len(_PCT.findall(text)) != text.count("%"):
        raise invalid(f"invalid percent-encoding in {what} {text!r}")
    try:
        return _PCT.sub(lambda m: chr(int(m.group(1), 16)), text).encode("latin-1") \
            .decode("utf-8")
    except UnicodeError:
        raise invalid(f"{what} {text!r} is not percent-encoded UTF-8") from None


@dataclass(frozen=True)
class Step:
    module: str
    name: str
    snode: libyang.SNode
    kind: str                                  # container | list | leaf | leaf-list | other
    keys: tuple[tuple[str, str], ...] = ()     # list: (key, value) in schema order
    value: str | None = None                   # leaf-list instance value

    @property
    def has_instance(self) -> bool:
        """A list/leaf-list step names one instance (keys or value given)."""
        return bool(self.keys) or self.value is not None

    def segment(self, parent_module: str | None) -> str:
        step = self.name if parent_module == self.module else f"{self.module}:{self.name}"
        if self.keys:
            step += "".join(f"[{k}={quote(v)}]" for k, v in self.keys)
        elif self.value is not None:
            step += f"[.={quote(self.value)}]"
        return step

    @property
    def member(self) -> str:
        """RFC 7951 member name, module-qualified (how a body names the resource)."""
        return f"{self.module}:{self.name}"


@dataclass(frozen=True)
class Target:
    """A resolved data resource; no steps = the datastore itself."""

    steps: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def is_datastore(self) -> bool:
        return not self.steps

    @property
    def last(self) -> Step:
        return self.steps[-1]

    @property
    def path(self) -> str:
        """libyang JSON-style data path ("/" for the datastore)."""
        out, module = [], None
        for step in self.steps:
            out.append(step.segment(module))
            module = step.module
        return "/" + "/".join(out)

    @property
    def parent(self) -> Target:
        return Target(self.steps[:-1])

    def child(self, step: Step) -> Target:
        return Target((*self.steps, step))

    def api_path(self) -> str:
        """The RFC 8040 api-path of this resource (for Location headers)."""
        out, module = [], None
        for step in self.steps:
            text = step.name if module == step.module else f"{step.module}:{step.name}"
            if step.keys:
                text += "=" + ",".join(url_quote(v, safe="") for _, v in step.keys)
            elif step.value is not None:
                text += "=" + url_quote(step.value, safe="")
            out.append(text)
            module = step.module
        return "/".join(out)


_KIND = {libyang.SNode.CONTAINER: "container", libyang.SNode.LIST: "list",
         libyang.SNode.LEAF: "leaf", libyang.SNode.LEAFLIST: "leaf-list"}


def kind_of(snode: libyang.SNode) -> str:
    return _KIND.get(snode.nodetype(), "other")


def key_names(snode: libyang.SNode) -> list[str]:
    assert isinstance(snode, libyang.SList)
    return [k.name() for k in snode.keys()]  # noqa: SIM118 (libyang API, not a dict)


def split_identifier(text: str, inherited: str | None, what: str) -> tuple[str, str]:
    """"module:name" or "name" (module inherited) → (module, name), syntax checked."""
    module, sep, name = text.rpartition(":")
    if not sep:
        module, name = "", text
    if not _IDENTIFIER.fullmatch(name) or (sep and not _IDENTIFIER.fullmatch(module)):
        raise invalid(f"invalid {what} {text!r}")
    if not module:
        if inherited is None:
            raise invalid(f"the first node of a path needs a module prefix: {text!r} "
                          "(RFC 8040 §3.5.3)")
        module = inherited
    return module, name


def child_snode(index: SchemaIndex, parent: libyang.SNode | None, module: str, name: str,
                where: str) -> libyang.SNode:
    snode = index.top(module, name) if parent is None else index.child(parent, module, name)
    if snode is None:
        known = module in set(index.module_names())
        raise NetconfError(RpcError(
            tag=ErrorTag.UNKNOWN_ELEMENT if known else ErrorTag.UNKNOWN_NAMESPACE,
            type=ErrorType.PROTOCOL, path=where,
            message=f"no data node {module}:{name} in the schema" if known
            else f"unknown module {module!r}", info=(("bad-element", name),)))
    return snode


def resolve(index: SchemaIndex, raw: str) -> Target:
    """The target of an api-path (the part after {+restconf}/data/ or ds/<name>/),
    still percent-encoded as it arrived in the request line."""
    if raw in ("", "/"):
        return Target()
    if raw.endswith("/"):
        raw = raw[:-1]
    steps: list[Step] = []
    parent: libyang.SNode | None = None
    module: str | None = None
    for segment in raw.split("/"):
        if not segment:
            raise invalid(f"empty path segment in {raw!r}")
        ident, has_keys, key_text = segment.partition("=")
        module, name = split_identifier(percent_decode(ident, "node name"), module,
                                        "node name")
        where = Target(tuple(steps)).path.rstrip("/") + f"/{module}:{name}"
        if steps and steps[-1].kind not in ("container", "list"):
            raise invalid(f"{steps[-1].name!r} has no child nodes", path=where,
                          tag=ErrorTag.UNKNOWN_ELEMENT)
        if steps and steps[-1].kind == "list" and not steps[-1].has_instance:
            raise invalid(f"list {steps[-1].name!r} needs its keys before a child node "
                          "(RFC 8040 §3.5.3)", path=where)
        snode = child_snode(index, parent, module, name, where)
        kind = kind_of(snode)
        step = Step(module=module, name=name, snode=snode, kind=kind)
        if has_keys:
            step = _with_instance(step, key_text, where)
        steps.append(step)
        parent = snode
    return Target(tuple(steps))


def _with_instance(step: Step, key_text: str, where: str) -> Step:
    values = [percent_decode(v, "key value") for v in key_text.split(",")]
    if step.kind == "leaf-list":
        if len(values) != 1:
            raise invalid(f"leaf-list {step.name!r} takes one value", path=where)
        return Step(step.module, step.name, step.snode, step.kind, value=values[0])
    if step.kind != "list":
        raise invalid(f"{step.name!r} is not a list or leaf-list; '=' is not allowed",
                      path=where)
    names = key_names(step.snode)
    if len(values) != len(names):
        raise invalid(f"list {step.name!r} has {len(names)} key(s) ({', '.join(names)}), "
                      f"{len(values)} given (RFC 8040 §3.5.3)", path=where)
    for value in values:
        quote(value)  # both quote characters cannot be expressed in a predicate
    return Step(step.module, step.name, step.snode, step.kind,
                keys=tuple(zip(names, values, strict=True)))
