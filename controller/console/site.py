"""The console's files and JSON helpers, answered for an authenticated RESTCONF request.

The RESTCONF server authenticates first (RFC 8040 §2.5, RFC 7235 401 challenge) and then
hands every path under /console here. Files come only from the packaged static/ folder:
the path is decoded once, split into segments, and any empty, dot or dot-dot segment,
backslash or NUL is refused before the file system is touched; the resolved file must
still lie inside static/ (no symlink escapes). Only known file types are served, each with
its content type.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from controller.console.headers import SECURITY_HEADERS
from controller.console.whoami import whoami
from controller.errors import ErrorTag
from controller.restconf.access import DataAccess
from controller.restconf.errors import http_error
from controller.restconf.resources import Request, Response

PREFIX = "/console"
STATIC = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".map": "application/json",
}
#: vendored libraries change only with a new release of the package
VENDOR_CACHE = "public, max-age=86400"


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class ConsoleSite:
    """GET/HEAD of the static app and `/console/api/...`; everything else 405/404."""

    def __init__(self, access: DataAccess, root: Path = STATIC) -> None:
        self.access = access
        self.root = root.resolve()

    def __call__(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise http_error(405, ErrorTag.OPERATION_NOT_SUPPORTED,
                             f"{request.method} is not allowed on the console "
                             "(actions go through /restconf)", headers={"Allow": "GET, HEAD"})
        rest = request.path[len(PREFIX):]
        if rest in ("", "/"):
            if rest == "":   # relative URLs in the page resolve against /console/
                return Response(301, headers={"Location": PREFIX + "/",
                                              **SECURITY_HEADERS})
            rest = "/index.html"
        if rest == "/api/whoami":
            return whoami(self.access, request.username)
        return self._file(rest)

    def _file(self, rest: str) -> Response:
        segments = unquote(rest, errors="strict").split("/")[1:]
        if not segments or any(s in ("", ".", "..") or "\\" in s or "\0" in s
                               or s.startswith(".") for s in segments):
            raise _not_found(rest)
        path = self.root.joinpath(*segments).resolve()
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is None or not path.is_relative_to(self.root) or not path.is_file():
            raise _not_found(rest)
        headers = dict(SECURITY_HEADERS)
        if segments[0] == "vendor":
            headers["Cache-Control"] = VENDOR_CACHE
        return Response(200, path.read_bytes(), content_type, headers=headers)


def _not_found(rest: str) -> Exception:
    return http_error(404, ErrorTag.INVALID_VALUE, f"no console resource {rest!r}")
