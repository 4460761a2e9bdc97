"""Fault correlation: device reports → root causes (no storm, no stale reports)."""

from __future__ import annotations

import time

from controller.service.faults import (
    FaultCorrelator,
    LinkReport,
    RootCauses,
    link_states,
    parse_link_failure,
)

REP = "urn:sdqn:sdqn-repeater"


def note(body: str) -> str:
    return (f'<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0">'
            f"<eventTime>2026-11-23T00:00:00Z</eventTime>"
            f'<link-failure xmlns="{REP}">{body}</link-failure></notification>')


def cut(link: str, fibre: str) -> str:
    return note(f"<severity>critical</severity><text>fibre cut on {fibre}</text>"
                f"<link-id>{link}</link-id><cause>loss-of-light</cause>"
                f"<failed-fibre>{fibre}</failed-fibre>")


def test_notifications_parse_into_reports_and_clears() -> None:
    link, rep = parse_link_failure(cut("r1-qr1", "qr1-r2")) or ("", None)
    assert link == "r1-qr1" and rep is not None
    assert (rep.cause, rep.element) == ("loss-of-light", "qr1-r2")
    cleared = parse_link_failure(note("<severity>cleared</severity><link-id>r1-qr1</link-id>"
                                      "<cause>loss-of-light</cause>"))
    assert cleared == ("r1-qr1", None)
    other = ('<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0">'
             f'<status-change xmlns="{REP}"><stable>true</stable></status-change>'
             "</notification>")
    assert parse_link_failure(other) is None


def test_many_reports_of_one_cut_make_one_root_cause() -> None:
    corr = FaultCorrelator()
    for reporter, link in (("r1", "r1-qr1"), ("r2", "qr1-r2"), ("r3", "qr1-r3")):
        parsed = parse_link_failure(cut(link, "qr1-r2"))
        assert parsed is not None
        corr.report(reporter, *parsed)
    roots = corr.roots()
    assert roots.failed_links == frozenset({"qr1-r2"}) and not roots.failed_nodes
    assert roots.reported_by("qr1-r2") == ("r1", "r2", "r3")
    assert not roots.unlocated
    # Only when every reporter withdrew is the fibre back.
    corr.report("r1", "r1-qr1", None)
    corr.report("r2", "qr1-r2", None)
    assert corr.roots().failed_links == frozenset({"qr1-r2"})
    corr.report("r3", "qr1-r3", None)
    assert corr.roots() == RootCauses()


def test_neighbour_down_is_a_node_root_and_identical_reports_change_nothing() -> None:
    corr = FaultCorrelator()
    down = LinkReport("", "r1-r2", "neighbour-unreachable", "r2")
    assert corr.report("r1", "r1-r2", down)
    assert not corr.report("r1", "r1-r2", down)          # a repeat is not news
    assert corr.roots().failed_nodes == frozenset({"r2"})
    assert corr.roots().failed_links == frozenset()


def test_state_snapshot_replaces_a_reporter_but_not_newer_news() -> None:
    corr = FaultCorrelator()
    state = (f'<repeater xmlns="{REP}"><link-generation>'
             "<link><link-id>r1-r2</link-id><state><oper-status>down</oper-status>"
             "<failure-cause>loss-of-light</failure-cause><failed-element>r1-r2"
             "</failed-element></state></link>"
             "<link><link-id>alice-r1</link-id><state><oper-status>up</oper-status></state>"
             "</link></link-generation></repeater>")
    links = link_states(state)
    assert links["alice-r1"] is None and links["r1-r2"] is not None
    assert corr.snapshot("r1", links)                    # a lost notification repaired
    assert corr.roots().failed_links == frozenset({"r1-r2"})
    taken = time.monotonic()
    time.sleep(0.01)
    corr.report("r1", "r1-r2", None)                     # cleared after the read began
    assert not corr.snapshot("r1", links, taken_at=taken)  # the older snapshot loses
    assert corr.roots() == RootCauses()
    assert corr.snapshot("r1", links)                    # a newer one wins again
    assert corr.forget("r1") and corr.roots() == RootCauses()
