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
