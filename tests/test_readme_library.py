"""The README's library example runs as written, outside the controller daemon."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def library_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### The engine and the server core as libraries", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the README section has no python example"
    return match.group(1)


def test_readme_library_example_serves_netconf(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(library_example())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<node-id>apc1</node-id>" in done.stdout
    assert "<target-bases>diagonal</target-bases>" in done.stdout
