"""Fixtures: a schema with the engine's test module and stores with real SQLite files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.datastore.nmda import NmdaStore
from controller.datastore.persistence import Persistence
from controller.datastore.schema import Schema
from controller.paths import yang_search_dirs

TEST_YANG = Path(__file__).resolve().parent.parent / "yang"
NS = 'xmlns="urn:sdqn:sdqn-test"'
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


def cfg(body: str) -> str:
    """A NETCONF <config> element with the nc and yang prefixes declared."""
    return (f'<config xmlns="{NC}" xmlns:nc="{NC}" '
            f'xmlns:yang="urn:ietf:params:xml:ns:yang:1">{body}</config>')


@pytest.fixture(scope="session")
def schema() -> Schema:
    return Schema(["sdqn-test"], search_dirs=[TEST_YANG, *yang_search_dirs()])


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture
def store(schema: Schema, db_path: Path) -> Iterator[NmdaStore]:
    persistence = Persistence(db_path, snapshot_every=4)
    st = NmdaStore(schema, persistence=persistence)
    yield st
    st.close()   # also cancels a confirmed-commit timer a test left pending


def reopen(schema: Schema, db_path: Path, **kwargs: object) -> NmdaStore:
    return NmdaStore(schema, persistence=Persistence(db_path), **kwargs)  # type: ignore[arg-type]
