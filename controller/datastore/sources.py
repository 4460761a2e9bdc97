"""Where each loaded module's YANG source text lives, keyed by name and revision.

<get-schema> (RFC 6022 §3.1) should hand a client the module exactly as its authors wrote
it: libyang's re-printed text drops comments and reorders statements, so a client that
checks the text against its own copy of the module (or a human reading it) sees a
different module. libyang remembers the file a module was parsed from; the modules it
carries compiled in (ietf-yang-library, ietf-yang-types, ...) have no file, so they are
looked up in the same search directories by the RFC 7950 §5.2 file name convention
(`name.yang` or `name@revision.yang`) and accepted only when the file's newest revision
matches the loaded one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import libyang

from controller.datastore.ly import c2s

ModuleKey = tuple[str, str | None]

# RFC 7950 §7.1.9: revisions SHOULD be listed newest first, so the first one is the
# module's revision.
_FIRST_REVISION = re.compile(r"""\brevision\s+["']?(\d{4}-\d{2}-\d{2})""")
_MODULE_NAME = re.compile(r"""^\s*(?:module|submodule)\s+["']?([A-Za-z_][\w.-]*)""",
                          re.MULTILINE)


def _declares(path: Path, name: str, revision: str | None) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    declared = _MODULE_NAME.search(text)
    if declared is None or declared.group(1) != name:
        return False
    found = _FIRST_REVISION.search(text)
    return (found.group(1) if found else None) == revision


def _find(name: str, revision: str | None, search_dirs: Iterable[Path]) -> Path | None:
    for directory in search_dirs:
        candidates = [directory / f"{name}@{revision}.yang"] if revision else []
        candidates.append(directory / f"{name}.yang")
        for path in candidates:
            if path.is_file() and _declares(path, name, revision):
                return path
    return None


def module_sources(ctx: libyang.Context, search_dirs: Iterable[Path]) -> dict[ModuleKey, Path]:
    """name@revision → source file for every module in `ctx` whose source can be found."""
    dirs = list(search_dirs)
    sources: dict[ModuleKey, Path] = {}
    for mod in ctx:
        revision = next(iter(mod.revisions()), None)
        key = (mod.name(), revision.date() if revision else None)
        filepath = c2s(mod.cdata.filepath)
        path = Path(filepath) if filepath else _find(key[0], key[1], dirs)
        if path is not None and path.is_file():
            sources[key] = path
    return sources
