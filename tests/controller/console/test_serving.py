"""The console as an HTTP resource: behind RESTCONF authentication, only its own files,
the right content types and security headers, and whoami from NACM."""

from __future__ import annotations

import base64
import http.client
from urllib.parse import urlsplit

import httpx
import pytest

from controller.restconf.server import RestconfServer

CREDENTIALS = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}


def raw_get(server: RestconfServer, path: str, headers: dict[str, str] | None = None
            ) -> tuple[int, bytes, http.client.HTTPResponse]:
    """A GET with the path sent byte for byte (httpx would normalise dot segments)."""
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request("GET", path, headers=CREDENTIALS if headers is None else headers)
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def test_console_needs_credentials_like_restconf(console_server: RestconfServer) -> None:
    for path in ("/console/", "/console/app.js", "/console/api/whoami", "/console/nothing"):
        status, _, response = raw_get(console_server, path, headers={})
        assert status == 401, path
        assert response.getheader("WWW-Authenticate", "").startswith("Basic"), path
    status, _, _ = raw_get(console_server, "/console/",
                           headers={"Authorization": "Basic " +
                                    base64.b64encode(b"admin:wrong").decode()})
    assert status == 401


@pytest.mark.parametrize("path,content_type", [
    ("/console/", "text/html; charset=utf-8"),
    ("/console/index.html", "text/html; charset=utf-8"),
    ("/console/app.js", "text/javascript; charset=utf-8"),
    ("/console/views/topology.js", "text/javascript; charset=utf-8"),
    ("/console/console.css", "text/css; charset=utf-8"),
])
def test_files_have_content_type_and_security_headers(
        console_server: RestconfServer, path: str, content_type: str) -> None:
    with httpx.Client(base_url=console_server.url, auth=("admin", "admin")) as client:
        response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers.get_list("cache-control") == ["no-cache"]


def test_bare_console_redirects_to_the_folder(console_server: RestconfServer) -> None:
    status, _, response = raw_get(console_server, "/console")
    assert status == 301 and response.getheader("Location") == "/console/"


@pytest.mark.parametrize("path", [
    "/console/../restconf/data",
    "/console/..%2f..%2fpyproject.toml",
    "/console/%2e%2e/site.py",
    "/console/views/../../site.py",
    "/console/views/%2e%2e/%2e%2e/whoami.py",
    "/console//etc/passwd",
    "/console/..\\site.py",
    "/console/%2fetc%2fpasswd",
    "/console/static/../site.py",
    "/console/site.py",
    "/console/.gitignore",
    "/console/views/",
])
def test_no_file_outside_the_app(console_server: RestconfServer, path: str) -> None:
    status, body, _ = raw_get(console_server, path)
    assert status in (400, 404), (path, status)
    assert b"import" not in body and b"root:" not in body and b"[project]" not in body


def test_console_is_read_only(console_server: RestconfServer) -> None:
    with httpx.Client(base_url=console_server.url, auth=("admin", "admin")) as client:
        response = client.post("/console/api/whoami", content=b"{}")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_whoami_follows_nacm(console_server: RestconfServer) -> None:
    with httpx.Client(base_url=console_server.url, auth=("admin", "admin")) as client:
        admin = client.get("/console/api/whoami")
    with httpx.Client(base_url=console_server.url, auth=("operator", "operator")) as client:
        operator = client.get("/console/api/whoami")
    assert admin.status_code == operator.status_code == 200
    assert admin.headers["content-type"] == "application/json"
    assert admin.json()["user"] == "admin" and "admin" in admin.json()["groups"]
    assert set(admin.json()["may"]) == {"commit", "rollback", "acknowledge", "calibrate",
                                        "drill", "dry-run"}
    assert all(admin.json()["may"].values())
    may = operator.json()["may"]
    assert operator.json()["user"] == "operator"
    assert not may["commit"] and not may["rollback"] and not may["acknowledge"]
    assert may["dry-run"]   # the read-only role may preview a change
