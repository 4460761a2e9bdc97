"""Where the product's files live, in a source checkout and in an installed wheel.

* Read-only resources — the product's YANG modules and the default configuration — are
  the top-level `yang/` and `config/` folders of a source checkout. A wheel installs the
  same files as wheel data under `<prefix>/share/sdqn/{yang,config}` (as pyang installs
  the IETF modules under `<prefix>/share/yang/modules`), so nothing is duplicated in the
  repository and the installed copies sit where system packagers expect them.
* Everything the product writes (datastores, commit history, host key, the emulators'
  inventory) goes to the data directory, never beside the installed code: `data_dir()`.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

# The source checkout's root when running from one (tests use it as a working directory);
# in an installed wheel this is site-packages and holds none of the resources.
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "SDQN_DATA_DIR"
_MARKER = Path("yang") / "sdqn-types.yang"  # a file both copies of the resources have


@functools.cache
def _installed_data(distribution: str, relative: Path) -> Path | None:
    """`<prefix>/<relative>` as installed by `distribution`'s wheel data, located through
    its RECORD so that every install scheme (venv, --user, --prefix, a system prefix) is
    covered; `relative` names a file the distribution installs."""
    from importlib import metadata

    try:
        files = metadata.files(distribution) or []
    except metadata.PackageNotFoundError:
        files = []
    for file in files:
        if tuple(file.parts[-len(relative.parts):]) == relative.parts:
            return Path(str(file.locate())).resolve()
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        if (Path(prefix) / relative).is_file():
            return Path(prefix) / relative
    return None


def resources_root() -> Path:
    """The directory holding `yang/` and `config/`: the checkout, else the installed share
    (the checkout wins so that a developer's edits are what runs)."""
    if (REPO_ROOT / _MARKER).is_file():
        return REPO_ROOT
    marker = _installed_data("sdqn", Path("share") / "sdqn" / _MARKER)
    if marker is None:
        raise RuntimeError("sdqn's YANG modules and default configuration were not found: "
                           f"neither {REPO_ROOT / _MARKER} (source checkout) nor "
                           "<prefix>/share/sdqn (installed wheel) exists")
    return marker.parents[len(_MARKER.parts) - 1]


_ROOT = resources_root()
YANG_DIR = _ROOT / "yang"
CONFIG_DIR = _ROOT / "config"


def data_dir() -> Path:
    """Where the product writes: $SDQN_DATA_DIR when set; /var/lib/sdqn for root (FHS
    variable state); else $XDG_DATA_HOME/sdqn, ~/.local/share/sdqn when XDG_DATA_HOME is
    unset or relative (the XDG Base Directory specification says to ignore relative
    values). A config file's `datastore.data_dir` overrides all of these."""
    explicit = os.environ.get(DATA_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser().absolute()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/sdqn")
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "sdqn"


def pyang_module_dirs() -> list[Path]:
    """IETF/IANA modules shipped by pyang (installed under <prefix>/share/yang/modules).

    We load them from pyang's install instead of copying them into the repo, so the RFC
    texts stay authoritative and upgrades come with pyang.
    """
    bases = [Path(prefix) / "share" / "yang" / "modules"
             for prefix in (sys.prefix, sys.base_prefix)]
    installed = _installed_data("pyang", Path("share/yang/modules/ietf/ietf-yang-types.yang"))
    if installed is not None:
        bases.insert(0, installed.parents[1])
    dirs: list[Path] = []
    for base in bases:
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
