"""Tests that need something a machine may lack (a browser, a cgroup, `setpriv`, an extra).

Where it is missing such a test skips, saying why. Where `.ci/run` has said the thing is
there (the environment variable named), a skip would hide a test that must run, so it fails
instead: in CI only the GPU test may skip.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

EXTRAS = "FASTSCAN_REQUIRE_EXTRAS"


def unavailable(reason: str, required_by: str) -> NoReturn:
    """Skips the test (or its module) with `reason`, or fails it when `required_by` is set."""
    if os.environ.get(required_by):
        pytest.fail(f"{required_by} is set but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def module(name: str, extra: str) -> ModuleType:
    """Imports `name`, which the `extra` of fastscan installs; skips where it is missing
    (fails where `FASTSCAN_REQUIRE_EXTRAS` is set: CI installs every extra)."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        unavailable(f"{name} is not installed (pip install 'fastscan[{extra}]'): {e}", EXTRAS)
