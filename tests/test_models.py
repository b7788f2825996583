"""Text clean-up of titles and abstracts: the fast path agrees with the general one."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from paperboy.models import clean_abstract, clean_title

_PARAGRAPH = re.compile(r"\n\s*\n|\n  (?=\S)")


def reference(text: str) -> str:
    paragraphs = (" ".join(p.split()) for p in _PARAGRAPH.split(text.strip()))
    return "\n\n".join(p for p in paragraphs if p)


@given(st.text(alphabet="ab$\n \t\r\xa0\u2009", max_size=60))
def test_clean_abstract_matches_the_general_rule(text: str) -> None:
    assert clean_abstract(text) == reference(text)


def test_real_wrapped_abstract_is_unwrapped_and_paragraphs_kept() -> None:
    wrapped = "High-resolution Large Multimodal Models (LMMs) encounter the challenges of\n"
    wrapped += "excessive visual tokens.\n  A second paragraph\nwraps too."
    assert clean_abstract(wrapped) == (
        "High-resolution Large Multimodal Models (LMMs) encounter the challenges of excessive "
        "visual tokens.\n\nA second paragraph wraps too."
    )


def test_clean_title_collapses_line_wraps() -> None:
    assert (
        clean_title(
            "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal\n  Models"
        )
        == "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    )
