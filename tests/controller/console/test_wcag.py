"""WCAG 2.x AA basics in every console view, in a real browser (Playwright, Debian's
headless chromium): the contrast ratio of every visible text element against its
background (WCAG 2.x relative luminance: >= 4.5:1, >= 3:1 for large text, SC 1.4.3);
every interactive element reachable with Tab (SC 2.1.1), with a visible focus indicator
(SC 2.4.7) and an accessible name (SC 4.1.2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.controller.console.conftest import console_page
from tests.controller.console.test_drills_browser import console_url, network

VIEWS = ["topology", "alarms", "services", "commits", "slices", "drills"]
__all__ = ["console_url", "network"]

#: per visible element with its own text: its contrast ratio and the ratio it needs
CONTRAST = """() => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g).map(Number);
                         return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
  const blend = (top, under) => ({ r: top.r * top.a + under.r * (1 - top.a),
    g: top.g * top.a + under.g * (1 - top.a), b: top.b * top.a + under.b * (1 - top.a), a: 1 });
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) layers.push(c);
      if (c.a >= 1) break;
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const c of layers.reverse()) bg = blend(c, bg);
    return bg;
  };
  const lum = (c) => { const f = (v) => { v /= 255;
    return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("#cy, script, style, option")) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const s = getComputedStyle(el);
    if (s.visibility === "hidden" || s.display === "none") continue;
    const r = el.getBoundingClientRect();
    if (r.right < 0 || r.bottom < 0 || r.width === 0) continue;   // off-screen (skip link)
    if (el.disabled) continue;   // inactive components are exempt (SC 1.4.3)
    const bg = background(el);
    const fg = blend(parse(s.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    out.push({ text: el.textContent.trim().slice(0, 40), tag: el.tagName,
               ratio: (hi + 0.05) / (lo + 0.05), need: large ? 3 : 4.5 });
  }
  return out;
}"""

INTERACTIVE = """() => [...document.querySelectorAll(
    "a[href], button:not(:disabled), input:not(:disabled), select:not(:disabled), "
    + "textarea, [tabindex]:not([tabindex='-1'])")]
  .filter((e) => e.getClientRects().length && !e.closest("#cy"))
  .map((e, i) => { e.dataset.a11yId = String(i); return String(i); })"""

NAME = """(e) => {
  const by = e.getAttribute('aria-labelledby');
  const labelled = by && by.split(' ').map((id) => document.getElementById(id))
    .filter(Boolean).map((l) => l.textContent).join(' ');
  const label = e.id && document.querySelector(`label[for='${e.id}']`);
  return (e.getAttribute('aria-label') || labelled || (label && label.textContent)
          || e.textContent || e.title || '').trim();
}"""


def test_every_view_meets_wcag_aa_basics(browser: Any, console_url: str,
                                         artifacts: Path) -> None:
    page = console_page(browser)
    for view in VIEWS:
        page.goto(f"{console_url}/console/#/{view}")
        page.reload()
        page.wait_for_selector(f"main[data-view='{view}']")
        page.wait_for_function(
            "() => document.querySelector('main').children.length > 0")
        page.wait_for_timeout(300)
        texts = page.evaluate(CONTRAST)
        assert len(texts) > 10, (view, texts)   # the header, nav and view at least
        low = [t for t in texts if t["ratio"] < t["need"]]
        assert low == [], (view, low)
        check_keyboard(page, view)
        page.screenshot(path=str(artifacts / f"console-wcag-{view}.png"),
                        full_page=True)


def check_keyboard(page: Any, view: str) -> None:
    wanted = set(page.evaluate(INTERACTIVE))
    assert len(wanted) >= 7, view   # the skip link, the six views, the time slider
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); "
                  "window.scrollTo(0, 0); }")
    page.focus("body")
    reached: set[str] = set()
    for _ in range(len(wanted) * 2 + 10):
        page.keyboard.press("Tab")
        focused = page.evaluate_handle("() => document.activeElement")
        ident = page.evaluate("(e) => e.dataset ? e.dataset.a11yId || null : null", focused)
        if ident is None:
            continue
        reached.add(ident)
        style = page.evaluate("(e) => { const s = getComputedStyle(e); "
                              "return [s.outlineStyle, s.outlineWidth, s.boxShadow]; }", focused)
        assert (style[0] != "none" and style[1] != "0px") or style[2] != "none", (view, ident)
        assert page.evaluate(NAME, focused), (view, ident,
                                              page.evaluate("(e) => e.outerHTML", focused))
        if reached == wanted:
            break
    missing = [page.evaluate(f"() => document.querySelector(\"[data-a11y-id='{i}']\").outerHTML")
               for i in wanted - reached]
    assert not missing, (view, missing)
