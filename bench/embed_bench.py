"""Embedding throughput on real arXiv abstracts: Paperboy's paths against sentence-transformers.

Texts: the first ``--n`` papers with an abstract in ../shared/data/arxiv-daily-listings, as
``paper_text`` builds them (title. abstract; about 240 tokens on average, most cut at 256).

Variants, each at 256 and at 128 tokens, with the baseline in the same run:

- ``sentence_transformers``: ``SentenceTransformer(path).encode(..., normalize_embeddings=True)``
  at batch size 32, the baseline every other vector is compared with (same max length);
- ``torch_fp32`` and ``torch_bf16``: ``paperboy.embed.model`` (fast tokenizer, length-sorted
  dynamic batches, SDPA attention) in float32 and in bfloat16; bfloat16 only where the CPU has
  native bfloat16 arithmetic (what the product's ``precision="auto"`` picks there);
- ``onnxruntime`` and ``onnxruntime_optimized``: the same model and pooling exported with
  ``torch.onnx.export`` (dynamic batch and sequence axes, eager attention so that ONNX Runtime's
  transformer optimizer can fuse it), run by the CPUExecutionProvider with all graph
  optimisations, as exported and after ``onnxruntime.transformers.optimizer`` (fused attention,
  embedding, skip-layer-norm and bias-GELU kernels), through the same batching.

The variants run in turn, ``--rounds`` times over all the texts (the CPU may be shared: a busy
spell then slows every variant, not one), and the best pass counts. All variants run in the
product's environment (``runtime_environment``: offline, idle OpenMP threads sleep rather than
spin). One JSON line per variant: abstracts per second (best and median pass), ratio of the best
to the baseline's best, mean and minimum cosine to the baseline's vectors. Last, ``truncation``:
cosine between the 256- and the 128-token vectors of the same texts.

    .venv/bin/python bench/embed_bench.py [--n 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, shared_file  # noqa: E402
from paperboy.embed.model import (  # noqa: E402
    Embedder,
    load_embedder,
    load_tokenizer,
    model_path,
    native_bf16,
    runtime_environment,
)
from paperboy.embed.text import paper_text  # noqa: E402

runtime_environment()  # the product's (offline, passive OpenMP waits), for every variant alike

LISTINGS = "data/arxiv-daily-listings/arxiv_daily_listings.jsonl.gz"
Encode = Callable[[list[str]], np.ndarray]


def load_texts(n: int) -> list[str]:
    texts: list[str] = []
    with gzip.open(shared_file(LISTINGS), "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("abstract") and row.get("title"):
                texts.append(paper_text(row["title"], row["abstract"]))
                if len(texts) >= n:
                    break
    return texts


def timed(encode: Encode, texts: list[str]) -> tuple[np.ndarray, float]:
    """Vectors and abstracts/s of one pass, after a short warm-up."""
    encode(texts[:8])
    start = time.perf_counter()
    vectors = encode(texts)
    return vectors, len(texts) / (time.perf_counter() - start)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def export_onnx(folder: Path) -> tuple[Path, Path]:
    """The model with mean pooling and normalisation, as exported and as optimised."""
    import torch
    from onnxruntime.transformers import optimizer
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    bert = BertModel.from_pretrained(
        str(model_path()),
        local_files_only=True,
        attn_implementation="eager",
        add_pooling_layer=False,
    ).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    plain, fused = folder / "model.onnx", folder / "model_opt.onnx"
    dummy = torch.ones(2, 16, dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    torch.onnx.export(
        Pooled().eval(),
        (dummy, dummy),
        str(plain),
        input_names=["input_ids", "attention_mask"],
        output_names=["sentence_embedding"],
        dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    optimized = optimizer.optimize_model(
        str(plain), model_type="bert", num_heads=12, hidden_size=384
    )
    optimized.save_model_to_file(str(fused))
    return plain, fused


def onnx_embedder(path: Path, max_tokens: int, threads: int) -> Embedder:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def backend(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    return Embedder(load_tokenizer(model_path(), max_tokens), backend, max_tokens=max_tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=400, help="abstracts to embed per variant")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="passes per variant, best kept")
    parser.add_argument("--threads", type=int, default=None, help="default: torch's (cores)")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    if args.threads:
        torch.set_num_threads(args.threads)
    texts = load_texts(args.n)
    product_variant = "torch_bf16" if native_bf16() else "torch_fp32"  # precision="auto"
    threads = torch.get_num_threads()
    baseline_model = SentenceTransformer(str(model_path()), device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        plain, fused = export_onnx(Path(tmp))
        emit(variant="onnx_export", seconds=round(time.perf_counter() - start, 1))
        product: dict[int, np.ndarray] = {}
        baselines: dict[int, np.ndarray] = {}
        for max_tokens in (256, 128):
            baseline_model.max_seq_length = max_tokens
            torch32 = load_embedder(max_tokens=max_tokens, precision="float32")
            tokens = [len(ids) for ids in torch32.tokenize(texts)]
            variants: dict[str, Encode] = {
                "sentence_transformers": lambda t: baseline_model.encode(
                    t, batch_size=args.batch_size, normalize_embeddings=True
                ),
                "torch_fp32": lambda t, e=torch32: e.encode(t, batch_size=args.batch_size),
            }
            if native_bf16():
                torch16 = load_embedder(max_tokens=max_tokens, precision="bfloat16")
                variants["torch_bf16"] = lambda t, e=torch16: e.encode(
                    t, batch_size=args.batch_size
                )
            for name, path in (("onnxruntime", plain), ("onnxruntime_optimized", fused)):
                ort_embedder = onnx_embedder(path, max_tokens, threads)
                variants[name] = lambda t, e=ort_embedder: e.encode(t, batch_size=args.batch_size)
            rates: dict[str, list[float]] = {name: [] for name in variants}
            vectors: dict[str, np.ndarray] = {}
            for _round in range(args.rounds):  # round-robin: a busy spell hits every variant
                for name, encode in variants.items():
                    vectors[name], rate = timed(encode, texts)
                    rates[name].append(rate)
            baselines[max_tokens] = vectors["sentence_transformers"]
            product[max_tokens] = vectors[product_variant]
            base_rate = max(rates["sentence_transformers"])
            for name in variants:
                agree = cosines(vectors[name], baselines[max_tokens])
                emit(
                    variant=name,
                    max_tokens=max_tokens,
                    n=len(texts),
                    mean_tokens=round(float(np.mean(tokens)), 1),
                    threads=threads,
                    abstracts_per_s=round(max(rates[name]), 1),
                    abstracts_per_s_median=round(float(np.median(rates[name])), 1),
                    ratio_vs_baseline=round(max(rates[name]) / base_rate, 2),
                    cos_mean=round(float(agree.mean()), 6),
                    cos_min=round(float(agree.min()), 6),
                )
    for name, vectors in (("sentence_transformers", baselines), ("product", product)):
        agree = cosines(vectors[256], vectors[128])
        emit(
            variant="truncation",
            of=name,
            compared="256 vs 128 tokens",
            cos_mean=round(float(agree.mean()), 4),
            cos_p05=round(float(np.percentile(agree, 5)), 4),
            cos_min=round(float(agree.min()), 4),
        )


if __name__ == "__main__":
    main()
