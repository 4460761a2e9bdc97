"""Entity-tags per resource (RFC 8040 §3.4.1.2, §3.5.2; RFC 7232 §2.3).

A tag is a digest of the resource's canonical content: its subtree in one datastore as
the user may read it (NACM applied), printed as RFC 7951 JSON without default nodes
(RFC 6243 explicit), so it changes exactly when that subtree changes and an edit
elsewhere leaves it alone. The datastore's name leads the tag ("running-…",
"operational-…"): {+restconf}/data serves both configuration (the edit target, running)
and <operational>, and a tag presented in If-Match is compared with the current tag of
the datastore it came from.

Tags of configuration datastores are cached per datastore version (and running's, which
an unmodified candidate follows); <operational> carries live counters the versions do
not track, so its tags are computed on every request.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from controller.datastore.nmda import Datastore
from controller.restconf.access import DataAccess
from controller.restconf.paths import Target

_CACHE_SIZE = 512
_DIGEST_CHARS = 24


def datastore_of(tag: str) -> Datastore | None:
    """The datastore a tag of ours was taken from (None: not one of ours)."""
    name = tag.strip().strip('"').rpartition("-")[0]
    try:
        return Datastore(name)
    except ValueError:
        return None


class EntityTags:
    def __init__(self, access: DataAccess) -> None:
        self.access = access
        self.store = access.store
        self._cache: OrderedDict[tuple[object, ...], str | None] = OrderedDict()
        self._lock = threading.Lock()

    def tag(self, ds: Datastore, target: Target, user: str,
            exists: Callable[[], bool]) -> str | None:
        """The current tag of `target` in `ds` for `user`; None when it does not exist.
        `exists` decides for a target with no nodes of its own (a non-presence
        container exists whenever its parent does, RFC 7950 §7.5.1)."""
        with self.store.atomic():
            key = None
            if ds is not Datastore.OPERATIONAL:
                key = (ds, self.store.versions[ds], self.store.versions[Datastore.RUNNING],
                       target.path, user)
                with self._lock:
                    if key in self._cache:
                        self._cache.move_to_end(key)
                        return self._cache[key]
            content = self._content(ds, target, user, exists)
        tag = None if content is None else (
            f'"{ds.value}-{hashlib.sha256(content).hexdigest()[:_DIGEST_CHARS]}"')
        if key is not None:
            with self._lock:
                self._cache[key] = tag
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return tag

    def _content(self, ds: Datastore, target: Target, user: str,
                 exists: Callable[[], bool]) -> bytes | None:
        forest = self.access.read(ds, None if target.is_datastore else [target.path], user)
        try:
            if not target.is_datastore and not forest.find_xpath(target.path) \
                    and not exists():
                return None
            return forest.print("json").encode()
        finally:
            forest.free()
