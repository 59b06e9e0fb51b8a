"""The shared test vectors of tests/data, as `cargo test` runs them, through the Python API."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import fastscan
from conftest import REPO, load_vectors, vector_files


def _cases(kind: str) -> list[Any]:
    out = []
    for path in vector_files():
        data = load_vectors(path)
        for case in data.get(kind, []):
            out.append(pytest.param(data, case, id=f"{path.stem}: {case['name']}"))
    return out


def _pack(data: dict[str, Any]) -> fastscan.PatternPack:
    if "builtin" in data:
        return fastscan.PatternPack.builtin(data["builtin"])
    return fastscan.PatternPack.from_dict(data["pack"])


def test_vectors_exist() -> None:
    assert len(vector_files()) >= 5
    assert len(_cases("case")) > 20
    assert len(_cases("error")) > 10


@pytest.mark.parametrize(("data", "case"), _cases("case"))
def test_case(data: dict[str, Any], case: dict[str, Any]) -> None:
    scanner = fastscan.Scanner(_pack(data), threads=2, pattern_counts=True)
    row = scanner.scan_one(case["haystack"])
    assert scanner.scan([case["haystack"]]).to_pylist() == [row]
    for group in scanner.group_names:
        if "groups" in case:
            assert row[group] == case["groups"].get(group, 0), group
        if group in case.get("min_groups", {}):
            assert row[group] >= case["min_groups"][group], group
    if "formats" in case:
        assert row["formats"] == case["formats"]
    if "patterns" in case:
        assert row["pattern_counts"] == case["patterns"]
    if "score" in case:
        assert math.isclose(row["score"], case["score"], abs_tol=1e-9)


@pytest.mark.parametrize(("data", "case"), _cases("error"))
def test_error(data: dict[str, Any], case: dict[str, Any]) -> None:
    with pytest.raises(fastscan.PackError) as info:
        fastscan.PatternPack.from_toml(case["toml"])
    err = info.value
    assert isinstance(err, ValueError)
    assert err.group == case.get("group")
    assert err.pattern == case.get("pattern")
    assert case["reason"] in err.reason
    assert case["reason"] in str(err)


def test_builtin_pack_file_is_the_packaged_one() -> None:
    shipped = Path(fastscan.__file__).parent / "packs" / "tool-use.toml"
    assert shipped.read_text() == (REPO / "python/fastscan/packs/tool-use.toml").read_text()
