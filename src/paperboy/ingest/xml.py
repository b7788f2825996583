"""Safe XML reading shared by the arXiv feed parsers (Atom API, OAI-PMH, RSS).

arXiv's feeds are untrusted input: no entity expansion, no network, no DTD, libxml2's size
limits on, so a hostile body cannot make the parser read files, reach hosts or blow up memory.
"""

from __future__ import annotations

from lxml import etree


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
    )


def text_of(element: etree._Element | None) -> str:
    """All text inside an element (comments and processing instructions left out)."""
    if element is None:
        return ""
    return "".join(t for t in element.itertext() if isinstance(t, str))


def parse_document(body: object, error: type[Exception], kind: str, shape: str) -> etree._Element:
    """The root element of a whole arXiv XML response, or ``error`` saying what went wrong.

    ``kind`` names what was expected ("Atom feed", "RSS feed") and ``shape`` shows it
    ("<rss><channel>"); bodies with a DOCTYPE are refused, as arXiv never sends one.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise error(f"expected the response body as bytes, got {type(body).__name__}")
    data = bytes(body)
    if not data.strip():
        raise error(f"empty response body: expected an {kind} ({shape})")
    try:
        root = etree.fromstring(data, safe_parser())
    except (etree.LxmlError, ValueError, LookupError) as exc:
        raise error(f"response is not well-formed XML, expected an {kind}: {exc}") from exc
    if root is None:
        raise error(f"response holds no XML element, expected an {kind}")
    if root.getroottree().docinfo.doctype:
        raise error(f"response declares a DOCTYPE; an arXiv {kind} never does")
    return root
