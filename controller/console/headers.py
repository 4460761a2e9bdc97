"""Response headers every console response carries.

A strict Content-Security-Policy (CSP Level 3, W3C): scripts, styles, images and
connections only from this origin, no inline script, no framing; the app is written for
it (no inline handlers, no eval). nosniff (Fetch standard §3.5.2) stops a browser from
treating a file as a type other than the declared one.
"""

from __future__ import annotations

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
