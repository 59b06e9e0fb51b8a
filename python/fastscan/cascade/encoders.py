"""Sentence encoders for the semantic stage: ONNX Runtime (int8 or fp32) or torch.

Both turn texts into L2-normalised mean-pooled embeddings of the same model directory (a
sentence-transformers BERT model such as the shipped all-MiniLM-L6-v2).

* `OnnxEncoder` (the CPU default): the model is exported from the installed package with
  torch's exporter, fused with ONNX Runtime's transformer optimizer, and (``quantize=True``)
  dynamically quantized to int8 per channel, once, into a cache keyed by the model files and
  the settings (written atomically; a file that does not load is rebuilt). Texts are
  tokenized with the model's own ``tokenizer.json`` (Hugging Face ``tokenizers``), longest
  first, padded per batch. Nothing is downloaded.
* `TorchEncoder`: sentence-transformers itself (the reference, and the path on a GPU).

`pick_backend` chooses: torch when torch sees a GPU, else ONNX when onnxruntime is installed,
else torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BACKENDS = ("auto", "onnx", "torch")
# Bumped when the export recipe changes, so old cache entries are not reused.
EXPORT_VERSION = 5
ONNX_OPSET = 17

_LOCK = threading.Lock()
_TORCH_MODELS: dict[tuple[str, str], Any] = {}
_BUILD_LOCK = threading.Lock()


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Hugging Face libraries offline (and quiet) while a model loads; the environment is
    restored afterwards."""
    names = (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_HUB_DISABLE_PROGRESS_BARS",
        "TQDM_DISABLE",
    )
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


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def gpu_available() -> bool:
    """Whether torch is installed and sees a CUDA device (torch, 1 s and 400 MB to import,
    is not imported on a machine without an NVIDIA driver)."""
    if not has_module("torch") or not Path("/proc/driver/nvidia").exists():
        return False
    import torch

    return bool(torch.cuda.is_available())


def pick_backend(backend: str, device: str | None) -> str:
    """The backend `auto` means here; an explicit ``onnx`` without onnxruntime falls back to
    torch (the stage's description says which ran)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    wants_gpu = device is not None and device.startswith("cuda")
    if backend == "auto":
        if wants_gpu or (device is None and gpu_available()):
            return "torch"
        backend = "onnx"
    if backend == "onnx" and not has_module("onnxruntime"):
        return "torch"
    return backend


class TorchEncoder:
    """sentence-transformers on `device` (None: cuda when torch sees one)."""

    backend = "torch"

    def __init__(self, model_dir: Path, device: str | None, max_tokens: int | None) -> None:
        try:
            import torch
            import transformers
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ValueError(
                "the semantic stage needs sentence-transformers: pip install 'fastscan[semantic]'"
            ) from e
        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        key = (str(model_dir.resolve()), self.device)
        with _LOCK, offline():
            if key not in _TORCH_MODELS:
                _TORCH_MODELS[key] = SentenceTransformer(
                    str(model_dir), device=self.device, local_files_only=True
                )
            self.model = _TORCH_MODELS[key]
        self.max_tokens = min(max_tokens or self.model.max_seq_length, self.model.max_seq_length)

    def encode(self, texts: Sequence[str], batch_size: int) -> Any:
        self.model.max_seq_length = self.max_tokens
        return self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


def _model_key(model_dir: Path) -> str:
    """A hash of the model directory's files (names, sizes and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode())
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:24]


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/fastscan`` (``~/.cache/fastscan``): built models and gold
    embeddings."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fastscan"


def onnx_file(model_dir: Path, quantize: bool, cache_dir: Path | None = None) -> Path:
    """The cached ONNX form of `model_dir` (built on first use)."""
    import onnxruntime

    settings = f"v{EXPORT_VERSION}-opset{ONNX_OPSET}-ort{onnxruntime.__version__}"
    name = f"{_model_key(model_dir)}-{settings}-{'int8' if quantize else 'fp32'}.onnx"
    path = (cache_dir or cache_root() / "onnx") / name
    with _BUILD_LOCK:
        if not _loads(path):
            _build(model_dir, quantize, path)
    return path


def _loads(path: Path) -> bool:
    if not path.is_file():
        return False
    import onnxruntime

    try:
        onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception:
        path.unlink(missing_ok=True)  # a broken or truncated cache file: rebuilt
        return False
    return True


def _build(model_dir: Path, quantize: bool, path: Path) -> None:
    """Exports, fuses and (optionally) quantizes; the result is renamed into place."""
    try:
        import onnx
        import torch
        import transformers
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers.optimizer import optimize_model
        from transformers import AutoConfig, AutoModel
    except ImportError as e:
        raise ValueError(
            "building the ONNX model needs torch, transformers and onnx once "
            "(pip install 'fastscan[semantic]'); afterwards it is cached"
        ) from e
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}")
    exported, fused, final = (stem.with_suffix(s) for s in (".export.onnx", ".fused.onnx", ".onnx"))
    try:
        quiet = transformers.utils.logging.get_verbosity()
        transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            with offline():
                config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
                model = AutoModel.from_pretrained(
                    str(model_dir), local_files_only=True, attn_implementation="eager"
                ).eval()
        finally:
            transformers.utils.logging.set_verbosity(quiet)
        pooled = _MeanPooled(model)
        ids = torch.ones((2, 8), dtype=torch.long)
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "tokens"} for n in names}
        axes["embedding"] = {0: "batch"}
        # The TorchScript exporter (deprecated in favour of one that needs onnxscript) traces
        # this fixed-graph BERT exactly; its warnings are about models with control flow.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                pooled,
                (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                str(exported),
                input_names=names,
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        optimized = optimize_model(
            str(exported),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
        )
        optimized.save_model_to_file(str(fused))
        if quantize:
            quantize_dynamic(
                str(fused),
                str(final),
                weight_type=QuantType.QInt8,
                per_channel=True,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        else:
            os.replace(fused, final)
        os.replace(final, path)
    finally:
        for tmp in (exported, fused, final):
            tmp.unlink(missing_ok=True)


def _MeanPooled(model: Any) -> Any:  # noqa: N802 (a torch module factory)
    import torch

    class MeanPooled(torch.nn.Module):
        """The encoder's last hidden states, mean-pooled over real tokens, L2-normalised:
        what sentence-transformers' Pooling(mean) + Normalize compute."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed, p=2, dim=1)

    return MeanPooled()


class OnnxEncoder:
    """The model as ONNX on ONNX Runtime's CPU provider (int8 when `quantize`).

    Each text runs alone (a batch of one, no padding) on one thread, `threads` texts at a
    time: dynamic int8 quantization scales activations per call, so a text batched with
    others would be scored differently next to different batchmates (by up to 0.04 in
    similarity, measured); alone, its embedding depends on it only. On 2 cores this is also
    the fastest layout measured (133 texts/s, against 108 for one session on 2 threads).
    """

    backend = "onnx"
    device = "cpu"

    def __init__(
        self,
        model_dir: Path,
        quantize: bool,
        max_tokens: int | None,
        threads: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        from fastscan.scanner import resolve_threads

        self.quantize = quantize
        self.file = onnx_file(model_dir, quantize, cache_dir)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(self.file), options, providers=["CPUExecutionProvider"]
        )
        self.threads = threads or resolve_threads(None)[0]
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="fastscan-onnx")
        limit = _max_positions(model_dir)
        self.max_tokens = min(max_tokens or limit, limit)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        self.tokenizer.no_padding()
        self.dims = int(self.session.get_outputs()[0].shape[1])

    def _one(self, text: str) -> Any:
        import numpy as np

        # Tokenized here, on the worker: it overlaps the other worker's inference.
        row = np.array([self.tokenizer.encode(text).ids], np.int64)
        feeds = {"input_ids": row, "attention_mask": np.ones_like(row), "token_type_ids": 0 * row}
        return self.session.run(None, feeds)[0][0]

    def encode(self, texts: Sequence[str], batch_size: int) -> Any:
        """Embeddings of `texts` (`batch_size` only bounds the work per call)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dims), np.float32)
        rows = list(self.pool.map(self._one, texts))
        return np.stack(rows).astype(np.float32, copy=False)


def _max_positions(model_dir: Path) -> int:
    """The model's own token limit (sentence-transformers' max_seq_length)."""
    import json

    for name, key in (("sentence_bert_config.json", "max_seq_length"),
                      ("config.json", "max_position_embeddings")):  # fmt: skip
        path = model_dir / name
        if path.is_file():
            value = json.loads(path.read_text(encoding="utf-8")).get(key)
            if isinstance(value, int):
                return value
    return 512


class StaticEncoder:
    """A static embedding model (model2vec) distilled from the model directory: one vector per
    token, averaged; no transformer at run time.

    Distilled once (``model2vec[distill]``, which runs the transformer over its vocabulary,
    ~20 s on 2 cores for MiniLM) into a cache keyed by the model files and `pca_dims`, written
    atomically; later runs only load it (``model2vec``).
    """

    backend = "static"
    device = "cpu"

    def __init__(self, model_dir: Path, pca_dims: int, cache_dir: Path | None = None) -> None:
        import numpy as np
        from model2vec import StaticModel

        path = static_dir(model_dir, pca_dims, cache_dir)
        self.model = StaticModel.from_pretrained(str(path))
        # Stored as float16; averaging float32 rows is several times faster.
        self.model.embedding = np.asarray(self.model.embedding, dtype=np.float32)
        self.max_tokens = None

    def encode(self, texts: Sequence[str], batch_size: int) -> Any:
        import numpy as np

        vectors = np.asarray(self.model.encode(list(texts), batch_size=max(batch_size, 1024)))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def static_dir(model_dir: Path, pca_dims: int, cache_dir: Path | None = None) -> Path:
    """The cached static model distilled from `model_dir` (built on first use)."""
    root = (cache_dir or cache_root() / "static") / f"{_model_key(model_dir)}-pca{pca_dims}"
    with _BUILD_LOCK:
        if not (root / "model.safetensors").is_file():
            try:
                from model2vec.distill import distill
            except ImportError as e:
                raise ValueError(
                    "distilling the static model needs model2vec[distill] once "
                    "(pip install 'fastscan[semantic]'); afterwards it is cached"
                ) from e
            tmp = root.with_name(f".{root.name}.{os.getpid()}.tmp")
            # model2vec draws progress bars on stderr; the stage's status line says what runs.
            with offline(), contextlib.redirect_stderr(io.StringIO()):
                model = distill(model_name=str(model_dir), pca_dims=pca_dims)
            model.save_pretrained(str(tmp))
            root.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, root)
    return root
