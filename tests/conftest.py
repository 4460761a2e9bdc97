"""Suite-wide set-up: quiet structured logs on stderr (tests read stdout of children), and
a throw-away data directory so that nothing the suite starts (daemons, the demo, the
emulator launcher, in this process or in children) writes to the user's real one or,
as root, to /var/lib/sdqn."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from controller.logs import configure_logging
from controller.paths import DATA_DIR_ENV

configure_logging("warning")


def pytest_configure(config: pytest.Config) -> None:
    data_dir = tempfile.mkdtemp(prefix="sdqn-tests-data-")
    os.environ[DATA_DIR_ENV] = data_dir
    config.add_cleanup(lambda: shutil.rmtree(data_dir, ignore_errors=True))
