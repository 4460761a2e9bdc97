"""The YANG schema the datastores are validated against, and what depends on what.

One libyang context holds every module; it also knows, per top-level data tree, which
other trees its XPath (leafref, must, when) can reach. A YANG expression can only name a
module it imports, so "the modules imported by every module contributing nodes to a tree"
is a sound dependency set. Validating only the trees an edit touched plus their dependents
keeps a one-leaf edit cheap on a 4,000-entry topology without ever skipping a check that
could fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libyang
import structlog

from controller.datastore.constraints import ConstraintIndex
from controller.datastore.ly import c2s, ffi, lib
from controller.datastore.sources import ModuleKey, module_sources
from controller.datastore.whens import WhenGuard
from controller.paths import yang_search_dirs

log = structlog.get_logger(__name__)

#: key predicate templates in libyang's data paths ("[node-id='%s']")
_PREDICATES = re.compile(r"\[[^\]]*\]")
_OPERATION_NODES = (libyang.schema.SRpc, libyang.schema.SNotif)

# Modules every controller schema carries (RFC 8342 NMDA and friends).
BASE_MODULES: tuple[str, ...] = (
    "ietf-yang-library",
    "ietf-datastores",
    "ietf-origin",
    "ietf-netconf-with-defaults",
    "ietf-netconf-nmda",
)

# Features enabled when a caller names none for a module (default: all). Subscribed
# notifications and YANG-Push get only what the NETCONF server implements (RFC 8639 §3,
# RFC 8641 §4): dynamic subscriptions with XML encoding, subtree/XPath filters, replay,
# on-change. Configured subscriptions, DSCP/QoS and VRF/interface binding stay off, so
# the library never announces them and running cannot hold configured subscriptions.
DEFAULT_FEATURES: dict[str, tuple[str, ...]] = {
    "ietf-subscribed-notifications": ("encode-xml", "replay", "subtree", "xpath"),
    "ietf-yang-push": ("on-change",),
}


@dataclass
class TreeInfo:
    """Facts about one top-level module's data tree."""

    module: str
    contributors: set[str] = field(default_factory=set)
    references: set[str] = field(default_factory=set)


class Schema:
    """A libyang context loaded with the product's modules."""

    def __init__(
        self,
        modules: Sequence[str],
        *,
        search_dirs: Iterable[Path] | None = None,
        features: dict[str, Sequence[str]] | None = None,
        mounted_modules: Sequence[str] = (),
    ) -> None:
        """`mounted_modules`: modules whose instance data the datastores carry inside
        anydata nodes (a controller's devices' own modules). They get a context of their
        own (`mounted`), so their top-level nodes never join these datastores; the YANG
        library lists them and <get-schema> serves them (controller/datastore/anydata.py).
        """
        dirs = list(search_dirs) if search_dirs is not None else yang_search_dirs()
        self.ctx = libyang.Context(":".join(str(d) for d in dirs), disable_searchdir_cwd=True)
        self.module_names: list[str] = []
        features = features or {}
        for name in [*BASE_MODULES, *modules]:
            if name in self.module_names:
                continue
            mod = self.ctx.load_module(name)
            _set_features(mod, features.get(name, DEFAULT_FEATURES.get(name, ["*"])))
            self.module_names.append(name)
        self.trees = self._analyse_trees()
        # Original module texts, for <get-schema> (RFC 6022 §3.1).
        self.sources: dict[ModuleKey, Path] = module_sources(self.ctx, dirs)
        self.constraints = ConstraintIndex(self.ctx)
        self.whens = WhenGuard(self.constraints)
        self.anydata_paths = _anydata_paths(self.ctx)
        self.mounted: Schema | None = (
            Schema(mounted_modules, search_dirs=dirs, features=features)
            if mounted_modules else None)
        log.debug("schema loaded", modules=self.module_names, trees=sorted(self.trees))

    # -- dependency analysis -------------------------------------------------------------

    def _analyse_trees(self) -> dict[str, TreeInfo]:
        trees: dict[str, TreeInfo] = {}
        for mod in self.ctx:
            if not mod.implemented():
                continue
            tops = [t for t in mod.children() if not isinstance(t, _OPERATION_NODES)]
            if not tops:
                continue
            info = TreeInfo(module=mod.name())
            stack = list(tops)
            while stack:
                snode = stack.pop()
                info.contributors.add(snode.module().name())
                if isinstance(snode, libyang.SContainer | libyang.SList):
                    stack.extend(snode.children())
            for contributor in info.contributors:
                info.references |= self.imports_of(contributor)
            info.references |= info.contributors
            trees[info.module] = info
        return trees

    def imports_of(self, module_name: str) -> set[str]:
        mod = self.ctx.get_module(module_name)
        parsed = mod.cdata.parsed
        names: set[str] = set()
        if parsed == ffi.NULL:
            return names
        count = ffi.cast("uint64_t *", parsed.imports)[-1] if parsed.imports != ffi.NULL else 0
        for i in range(int(count)):
            name = c2s(parsed.imports[i].name)
            if name:
                names.add(name)
        return names

    def validation_set(self, changed_trees: Iterable[str]) -> set[str]:
        """Trees to re-validate after `changed_trees` changed."""
        changed = set(changed_trees)
        touched_modules: set[str] = set()
        for tree in changed:
            info = self.trees.get(tree)
            touched_modules |= info.contributors if info else {tree}
        result = set(changed)
        for name, info in self.trees.items():
            if info.references & touched_modules:
                result.add(name)
        return result

    def leaf_is_free(self, snode: Any) -> bool:
        """True when no constraint anywhere in the schema can see this leaf's value.

        Then changing the value of an existing instance needs no validation beyond its
        type, which libyang checks when the value is set.
        """
        return not self.constraints.observes(snode)

    def notification_xml(self, content: Mapping[str, Any]) -> str:
        """A YANG notification given as RFC 7951 JSON ({"module:name": {...}}), validated
        by libyang and printed as XML (with the namespace declarations its identities and
        instance-identifiers need), ready for an RFC 5277 <notification>."""
        node = self.ctx.parse_op("json", libyang.IOType.MEMORY, json.dumps(content),
                                 libyang.DataType.NOTIF_YANG)
        try:
            return str(node.print_mem("xml", pretty=False))
        finally:
            node.free()

    def decimal(self, schema_path: str, value: float) -> str:
        """`value` as the canonical text of the decimal64 leaf at `schema_path`, rounded
        to the leaf's fraction-digits (so computed figures always fit their YANG type)."""
        snode = next(self.ctx.find_path(schema_path))
        typ = ffi.cast("struct lysc_node_leaf *", snode.cdata).type
        if typ.basetype != lib.LY_TYPE_DEC64:
            raise ValueError(f"{schema_path} is not a decimal64 leaf")
        digits = int(ffi.cast("struct lysc_type_dec *", typ).fraction_digits)
        text = f"{round(value, digits):.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text

    def module(self, name: str) -> libyang.Module:
        return self.ctx.get_module(name)

    def module_cdata(self, name: str) -> Any:
        return self.ctx.get_module(name).cdata


def _anydata_paths(ctx: libyang.Context) -> tuple[str, ...]:
    """Data paths (without predicates) of every anydata/anyxml node of the implemented
    modules' data trees, for `Forest.find_xpath`."""
    inner, anys = (lib.LYS_CONTAINER, lib.LYS_LIST), (lib.LYS_ANYDATA, lib.LYS_ANYXML)
    paths: list[str] = []
    stack: list[Any] = [top for mod in ctx if mod.implemented()
                        for top in mod.children(types=(*inner, *anys))]
    while stack:
        snode = stack.pop()
        if snode.nodetype() in anys:
            paths.append(_PREDICATES.sub("", snode.data_path()))
        else:
            stack.extend(snode.children(types=(*inner, *anys)))
    return tuple(sorted(set(paths)))


def _set_features(mod: libyang.Module, names: Sequence[str]) -> None:
    """Enable exactly `names` ("*" = all). libyang's lys_set_implemented replaces the
    whole feature set on each call, so all names go in one call."""
    encoded = [ffi.new("char[]", n.encode()) for n in names]
    array = ffi.new("char *[]", [*encoded, ffi.NULL])
    if lib.lys_set_implemented(mod.cdata, array) != 0:
        lib.ly_err_clean(mod.context.cdata, ffi.NULL)
        raise ValueError(f"{mod.name()}: cannot enable features {list(names)}")
