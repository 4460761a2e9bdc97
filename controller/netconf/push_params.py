"""The input of the subscription rpcs (RFC 8639 §2.4, RFC 8641 §4.4) and how they are
refused: element lookup across the two modules' choices and augments, the typed leaves
(ids, centiseconds, date-and-time), and the RFC's reason identities."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from controller.errors import ErrorTag, NetconfError
from controller.netconf.xml import DS_NS, text_of
from controller.netconf.xml import children as elements

SN = "ietf-subscribed-notifications"
YP = "ietf-yang-push"
SN_NS = "urn:ietf:params:xml:ns:yang:ietf-subscribed-notifications"
YP_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-push"


def refusal(reason: str, message: str, *, module: str = SN,
            tag: ErrorTag = ErrorTag.INVALID_VALUE) -> NetconfError:
    """RFC 8640 §2.3-2.4: the rpc-error's error-app-tag is the identity naming why."""
    return NetconfError.of(tag, message, app_tag=f"{module}:{reason}")


class Args:
    """The input of one subscription rpc, by (namespace, name) anywhere in the input's
    top level (choices and augments put leaves of both modules side by side)."""

    def __init__(self, op: etree._Element, *namespaces: str) -> None:
        self.items: dict[tuple[str, str], etree._Element] = {}
        for child in elements(op):
            name = etree.QName(child)
            if name.namespace not in (namespaces or (SN_NS, YP_NS)):
                raise NetconfError.of(ErrorTag.UNKNOWN_ELEMENT,
                                      f"unexpected element <{name.localname}>",
                                      info=(("bad-element", name.localname),))
            self.items[(name.namespace, name.localname)] = child

    def get(self, ns: str, name: str) -> etree._Element | None:
        return self.items.get((ns, name))

    def has(self, ns: str, name: str) -> bool:
        return (ns, name) in self.items

    def text(self, ns: str, name: str) -> str | None:
        el = self.get(ns, name)
        return text_of(el) if el is not None else None


def subscription_id(args: Args, namespace: str = SN_NS) -> int:
    text = args.text(namespace, "id")
    if text is None:
        raise NetconfError.of(ErrorTag.MISSING_ELEMENT, "<id> is mandatory",
                              info=(("bad-element", "id"),))
    if not text.isdigit():
        raise NetconfError.of(ErrorTag.INVALID_VALUE, f"invalid id {text!r}",
                              info=(("bad-element", "id"),))
    return int(text)


def centiseconds(parent: etree._Element, name: str, default: int | None) -> int | None:
    el = parent.find(f"{{{YP_NS}}}{name}")
    if el is None:
        if default == 0 and name == "period":
            raise NetconfError.of(ErrorTag.MISSING_ELEMENT, "<periodic> needs <period>",
                                  info=(("bad-element", "period"),))
        return default
    text = text_of(el)
    if not text.isdigit() or int(text) > 0xFFFFFFFF:
        raise NetconfError.of(ErrorTag.INVALID_VALUE, f"{name} is a uint32 of centiseconds",
                              info=(("bad-element", name),))
    return int(text)


def datastore_identity(el: etree._Element, namespace: str) -> str:
    prefix, sep, local = text_of(el).rpartition(":")
    ns = el.nsmap.get(prefix or None) if sep else None
    if ns != namespace and not (sep and prefix == "ietf-datastores"):
        raise refusal("datastore-not-subscribable", f"unknown datastore {text_of(el)!r}",
                      module=YP)
    return local


def time_param(args: Args, name: str) -> datetime | None:
    text = args.text(SN_NS, name)
    return parse_time(text, name) if text is not None else None


def parse_time(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise NetconfError.of(ErrorTag.INVALID_VALUE, f"{name} is not an RFC 3339 "
                              f"date-and-time: {text!r}", info=(("bad-element", name),))
    return value


def stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def leaf(ns: str, name: str, text: str, *, sn: bool = False, ds: bool = False,
          yp: bool = False) -> etree._Element:
    nsmap: dict[str | None, str] = {None: ns}
    if sn:
        nsmap[SN] = SN_NS
    if yp:
        nsmap[YP] = YP_NS
    if ds:
        nsmap["ds"] = DS_NS
    el = etree.Element(f"{{{ns}}}{name}", nsmap=nsmap)
    el.text = text
    return el
