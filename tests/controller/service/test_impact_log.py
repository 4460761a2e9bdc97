"""The impact of each change of running, kept by commit id: survives a restart (SQLite),
bounded to the newest `keep`, and the same in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.service.impact_log import ImpactLog


def impact(n: int) -> dict[str, object]:
    return {"totals": {"added": n}, "service": [{"name": f"s{n}", "change": "added"}]}


@pytest.mark.parametrize("on_disk", [True, False], ids=["sqlite", "memory"])
def test_kept_by_id_and_bounded(tmp_path: Path, on_disk: bool) -> None:
    log = ImpactLog(tmp_path / "impact.sqlite" if on_disk else None, keep=3)
    for n in range(5):
        log.record(f"c{n}", impact(n))
    assert log.get("c0") is None and log.get("c1") is None       # beyond the newest 3
    assert [log.get(f"c{n}") for n in (2, 3, 4)] == [impact(2), impact(3), impact(4)]
    log.record("c4", impact(40))                                   # the same change again
    assert log.get("c4") == impact(40)
    assert log.get("never") is None
    log.close()


def test_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "impact.sqlite"
    first = ImpactLog(path)
    first.record("c1", impact(1))
    first.close()
    again = ImpactLog(path)
    assert again.get("c1") == impact(1)
    again.close()
