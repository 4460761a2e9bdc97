"""`sdqn bench datastore` (filled in by the datastore engine work)."""

from __future__ import annotations


def main() -> None:
    """Print datastore benchmark figures."""
    raise SystemExit("not implemented yet")
