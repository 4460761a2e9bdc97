"""Diffs of device configurations, computed by libyang with the device's own schema.

Device configs are YANG XML, so the same engine that diffs the controller's datastores
diffs them: list entries are matched by key and leaf-list entries by value rather than by
position, which a textual XML diff cannot do.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from controller.datastore.readers import datastore_diff, readable_diff
from controller.datastore.schema import Schema
from controller.datastore.tree import Forest


class ConfigDiffer:
    """Caches one libyang context per device module set."""

    def __init__(self) -> None:
        self._schemas: dict[tuple[str, ...], Schema] = {}
        self._lock = threading.Lock()

    def schema(self, modules: Sequence[str]) -> Schema:
        key = tuple(sorted(modules))
        with self._lock:
            if key not in self._schemas:
                self._schemas[key] = Schema(list(key))
            return self._schemas[key]

    def diff(self, before_xml: str, after_xml: str, modules: Sequence[str]
             ) -> list[dict[str, Any]]:
        """Entries {operation, path, value?, previous?} turning `before` into `after`."""
        schema = self.schema(modules)
        with self._lock:  # one libyang context is not safe for concurrent parsing
            old = Forest.parse(schema, before_xml, "xml", validate=False)
            try:
                new = Forest.parse(schema, after_xml, "xml", validate=False)
                try:
                    return datastore_diff(old, new)
                finally:
                    new.free()
            finally:
                old.free()

    def document(self, xml: str, modules: Sequence[str]) -> dict[str, Any]:
        """A device configuration (YANG XML) as its RFC 7951 JSON document, so that it
        diffs like the controller's datastores and the dry-run impact
        (controller/datastore/jsondiff.py): same paths, same value texts."""
        schema = self.schema(modules)
        with self._lock:
            forest = Forest.parse(schema, xml, "xml", validate=False)
            try:
                return forest.to_dict()
            finally:
                forest.free()

    @staticmethod
    def readable(entries: list[dict[str, Any]]) -> str:
        return readable_diff(entries)
