"""The one network commit that may be half done when the controller dies.

Written (fsync'd) before any device gets its confirmed commit, removed once every device
is confirmed or cancelled. At start-up, a record left behind means the controller died
inside a commit: each device listed still has, or had, a pending confirmed commit with
that persist id (RFC 6241 §8.4.1: any session may confirm or cancel it by persist-id).
Recovery confirms it where the device already runs what <intended> says (the datastore
write happened) and cancels it everywhere else (it did not), before check-sync.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InflightCommit:
    commit_id: str
    nodes: tuple[str, ...]


class InflightRecord:
    def __init__(self, path: Path) -> None:
        self.path = path

    def begin(self, commit_id: str, nodes: list[str]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            json.dump({"commit-id": commit_id, "nodes": nodes}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def end(self) -> None:
        self.path.unlink(missing_ok=True)

    def read(self) -> InflightCommit | None:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None          # a torn write: nothing was pushed after it
        return InflightCommit(str(raw["commit-id"]), tuple(raw.get("nodes", [])))
