"""Shared fixtures and hypothesis profiles (choose with FASTSCAN_HYPOTHESIS_PROFILE)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import tomllib
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("FASTSCAN_HYPOTHESIS_PROFILE", "dev"))


def vector_files() -> list[Path]:
    """The shared test vectors, also run by `cargo test`."""
    return sorted(DATA.glob("*.toml"))


def load_vectors(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)
