"""What the server tells clients about its schema: hello capabilities, the YANG library
(RFC 8525, served in <operational>), and <get-schema> (RFC 6022 §3.1).

The content-id is a digest of the module set (names, revisions, features, conformance),
so it changes exactly when the schema does and survives restarts (RFC 8526 §2 requires
the yang-library:1.1 capability to carry the same content-id as /yang-library).

Clients written before NMDA (yuma123 yangcli, older ncclient users) only know YANG
library 1.0 (RFC 7895): they look for its capability in <hello> and read the deprecated
/modules-state that ietf-yang-library 2019-01-04 still defines. Both are served, with the
same digest as module-set-id, so every generation of client finds the modules.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import libyang

from controller.datastore.ly import c2s, ffi
from controller.datastore.schema import Schema
from controller.datastore.tree import Forest
from controller.errors import ErrorTag, ErrorType, NetconfError, RpcError

YANG_LIBRARY_REVISION = "2019-01-04"
# RFC 7950 §5.6.4 / RFC 7895 §2: the YANG library 1.0 capability names this revision.
LEGACY_YANG_LIBRARY_REVISION = "2016-06-21"
NMDA_DATASTORES = ("running", "candidate", "startup", "intended", "operational")

BASE_CAPABILITIES = (
    "urn:ietf:params:netconf:base:1.0",
    "urn:ietf:params:netconf:base:1.1",
    "urn:ietf:params:netconf:capability:writable-running:1.0",
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
    "urn:ietf:params:netconf:capability:validate:1.1",
    "urn:ietf:params:netconf:capability:startup:1.0",
    "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
    "urn:ietf:params:netconf:capability:xpath:1.0",
    # RFC 6243 §4: our basic mode is explicit.
    "urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit"
    "&also-supported=report-all,report-all-tagged,trim",
    "urn:ietf:params:netconf:capability:notification:1.0",   # RFC 5277 §3.1
    "urn:ietf:params:netconf:capability:interleave:1.0",     # RFC 5277 §6
)


# Features a schema may enable that this server does not implement: they must not be
# announced (ietf-netconf's :url needs <url> sources and targets, which we refuse).
UNSUPPORTED_FEATURES = {"ietf-netconf": frozenset({"url"})}


@dataclass(frozen=True)
class ModuleInfo:
    name: str
    revision: str | None
    namespace: str
    implemented: bool
    yang_version: str
    features: tuple[str, ...]


def modules(schema: Schema) -> list[ModuleInfo]:
    result = []
    for mod in schema.ctx:
        revision = next(iter(mod.revisions()), None)
        parsed = mod.cdata.parsed
        version = "1.1" if parsed != ffi.NULL and parsed.version == 2 else "1.0"
        hidden = UNSUPPORTED_FEATURES.get(mod.name(), frozenset())
        features = tuple(f.name() for f in mod.features()
                         if f.state() and f.name() not in hidden) if mod.implemented() else ()
        result.append(ModuleInfo(name=mod.name(), revision=revision.date() if revision else None,
                                 namespace=c2s(mod.cdata.ns) or "",
                                 implemented=mod.implemented(), yang_version=version,
                                 features=features))
    return result


def mounted_modules(schema: Schema) -> list[ModuleInfo]:
    """The modules of instance data carried in anydata (`Schema.mounted`) that the
    controller's own context lacks, as import-only modules: RFC 8525 §3 lists there the
    modules a server uses definitions of without implementing their protocol-accessible
    objects, which is what these are (their nodes are no top-level data of this server)."""
    if schema.mounted is None:
        return []
    own = {mod.name() for mod in schema.ctx}
    return [dataclasses.replace(info, implemented=False, features=())
            for info in modules(schema.mounted) if info.name not in own]


def content_id(infos: Iterable[ModuleInfo]) -> str:
    digest = hashlib.sha256()
    for info in sorted(infos, key=lambda i: i.name):
        digest.update(f"{info.name}@{info.revision}:{info.implemented}:"
                      f"{','.join(sorted(info.features))};".encode())
    return digest.hexdigest()[:16]


class Library:
    """Per-schema facts, computed once (a schema never changes while a server runs)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.modules = modules(schema)
        self.mounted = mounted_modules(schema)
        self.modules.extend(self.mounted)
        self.content_id = content_id(self.modules)
        self._yanglib_json = self._build_yanglib()

    def capabilities(self, extra: Iterable[str] = ()) -> list[str]:
        caps = list(BASE_CAPABILITIES)
        caps.append(f"urn:ietf:params:netconf:capability:yang-library:1.1"
                    f"?revision={YANG_LIBRARY_REVISION}&content-id={self.content_id}")
        # RFC 7950 §5.6.4: the 1.0 capability carries the module-set-id of /modules-state.
        caps.append(f"urn:ietf:params:netconf:capability:yang-library:1.0"
                    f"?revision={LEGACY_YANG_LIBRARY_REVISION}"
                    f"&module-set-id={self.content_id}")
        # RFC 7950 §5.6.4: YANG 1.0 modules are still announced as module capabilities;
        # YANG 1.1 modules only through the YANG library.
        for info in self.modules:
            if info.implemented and info.yang_version == "1.0" and info.namespace:
                uri = f"{info.namespace}?module={info.name}"
                if info.revision:
                    uri += f"&revision={info.revision}"
                if info.features:
                    uri += f"&features={','.join(info.features)}"
                caps.append(uri)
        caps.extend(extra)
        return caps

    def _build_yanglib(self) -> str:
        data: dict[str, Any] = json.loads(
            self.schema.ctx.get_yanglib_data(  # type: ignore[no-untyped-call]
                self.content_id).print_mem(
                "json", with_siblings=True))
        # File locations of this host mean nothing to a client: modules are fetched with
        # <get-schema> (RFC 6022) instead.
        entries = [entry for module_set in data["ietf-yang-library:yang-library"].get(
            "module-set", []) for entry in (*module_set.get("module", []),
                                            *module_set.get("import-only-module", []))]
        for entry in entries:
            entry.pop("location", None)
        legacy = data.get("ietf-yang-library:modules-state", {}).get("module", [])
        for entry in legacy:
            entry.pop("schema", None)
        for entry in (*entries, *legacy):
            hidden = UNSUPPORTED_FEATURES.get(entry["name"], frozenset())
            if hidden and "feature" in entry:
                entry["feature"] = [f for f in entry["feature"] if f not in hidden]
        library = data["ietf-yang-library:yang-library"]
        if self.mounted:
            # RFC 8525 §3 import-only-module and RFC 7895 §2.2 conformance-type import: the
            # device modules, so a client can fetch them (<get-schema>) and parse the
            # device data in intended with them.
            library["module-set"][0].setdefault("import-only-module", []).extend(
                {"name": m.name, "revision": m.revision or "", "namespace": m.namespace}
                for m in self.mounted)
            data.setdefault("ietf-yang-library:modules-state", {}).setdefault(
                "module", []).extend(
                {"name": m.name, "revision": m.revision or "", "namespace": m.namespace,
                 "conformance-type": "import"} for m in self.mounted)
        library["datastore"] = [{"name": f"ietf-datastores:{ds}", "schema": "complete"}
                                for ds in NMDA_DATASTORES]
        return json.dumps(data)

    def yanglib_forest(self) -> Forest:
        """A fresh forest with /yang-library and /modules-state (caller frees it)."""
        return Forest.parse(self.schema, self._yanglib_json, "json", config_only=False,
                            validate=False)

    def schema_text(self, identifier: str, version: str | None, fmt: str) -> str:
        """<get-schema> content (RFC 6022 §3.1); errors per its rpc-error rules."""
        if fmt not in ("yang", "yin"):
            raise NetconfError(RpcError(tag=ErrorTag.INVALID_VALUE, type=ErrorType.PROTOCOL,
                                        message=f"unsupported schema format {fmt!r}",
                                        info=(("bad-element", "format"),)))
        matches = [m for m in self.modules if m.name == identifier
                   and (not version or m.revision == version)]
        if not matches:
            raise NetconfError(RpcError(tag=ErrorTag.INVALID_VALUE, type=ErrorType.APPLICATION,
                                        message=f"no schema {identifier!r}"
                                                + (f" revision {version}" if version else ""),
                                        info=(("bad-element", "identifier"),)))
        if len(matches) > 1:
            raise NetconfError(RpcError(tag=ErrorTag.OPERATION_FAILED,
                                        type=ErrorType.APPLICATION, app_tag="data-not-unique",
                                        message=f"several revisions of {identifier!r}"))
        # RFC 6022 §3.1 returns "the schema": for YANG that is the module as written, so
        # the source file wins over libyang's re-printed text (which drops comments).
        # Modules libyang carries without a file (and YIN, which has no source here) are
        # printed by libyang.
        schema = self.schema
        if matches[0] in self.mounted and schema.mounted is not None:
            schema = schema.mounted
        source = schema.sources.get((identifier, matches[0].revision))
        if fmt == "yang" and source is not None:
            return source.read_text(encoding="utf-8")
        module: libyang.Module = schema.ctx.get_module(identifier)
        text = module.print_mem(fmt)
        return text.decode() if isinstance(text, bytes) else str(text)

    def schemas_state(self) -> list[dict[str, Any]]:
        """/netconf-state/schemas entries (RFC 6022 §2.1.3)."""
        return [{"identifier": m.name, "version": m.revision or "", "format": fmt,
                 "namespace": m.namespace, "location": ["NETCONF"]}
                for m in self.modules if m.namespace
                for fmt in ("ietf-netconf-monitoring:yang", "ietf-netconf-monitoring:yin")]
