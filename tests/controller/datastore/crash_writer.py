"""Child process for test_crash: commits numbered, multi-node edits until it is killed.

Each edit sets /system/hostname to h<k> and creates device d<k> with address a<k> in
one transaction, then prints k. A torn write would show up as a hostname and a device
set that disagree, or as a datastore that does not load.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.persistence import Persistence
from controller.datastore.schema import Schema
from controller.logs import configure_logging
from controller.paths import yang_search_dirs

TEST_YANG = Path(__file__).resolve().parent.parent / "yang"


def main(db: str) -> None:
    configure_logging("warning")
    schema = Schema(["sdqn-test"], search_dirs=[TEST_YANG, *yang_search_dirs()])
    store = NmdaStore(schema, persistence=Persistence(Path(db), snapshot_every=3))
    data = json.loads(store.get(Datastore.RUNNING) or "{}")
    k = len(data.get("sdqn-test:device", []))
    while True:
        store.edit_json(Datastore.RUNNING, {
            "sdqn-test:system": {"hostname": f"h{k}"},
            "sdqn-test:device": [{"name": f"d{k}", "address": f"a{k}"}]})
        print(k, flush=True)
        k += 1


if __name__ == "__main__":
    main(sys.argv[1])
