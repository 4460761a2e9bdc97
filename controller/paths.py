"""Where the product's files live: YANG modules, default config, IETF modules from pyang."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
YANG_DIR = REPO_ROOT / "yang"
CONFIG_DIR = REPO_ROOT / "config"


def pyang_module_dirs() -> list[Path]:
    """IETF/IANA modules shipped by pyang (installed under <prefix>/share/yang/modules).

    We load them from pyang's install instead of copying them into the repo, so the RFC
    texts stay authoritative and upgrades come with pyang.
    """
    candidates = [Path(sys.prefix), Path(sys.base_prefix)]
    dirs: list[Path] = []
    for prefix in candidates:
        base = prefix / "share" / "yang" / "modules"
        for sub in ("ietf", "iana"):
            if (base / sub).is_dir() and base / sub not in dirs:
                dirs.append(base / sub)
    if not dirs:
        raise RuntimeError(
            "pyang's IETF YANG modules were not found under share/yang/modules; "
            "is pyang installed in this environment?"
        )
    return dirs


def yang_search_dirs() -> list[Path]:
    return [YANG_DIR, *pyang_module_dirs()]
