"""A test whose need is missing skips, saying why, unless CI has said the need is met."""

from __future__ import annotations

import pytest

import requires


def test_a_missing_extra_skips_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(requires.EXTRAS, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"fastscan\[semantic\]"):
        requires.module("fastscan_no_such_module", "semantic")


def test_a_missing_extra_fails_where_ci_requires_the_extras(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(requires.EXTRAS, "1")
    with pytest.raises(pytest.fail.Exception, match="FASTSCAN_REQUIRE_EXTRAS is set but"):
        requires.module("fastscan_no_such_module", "semantic")


def test_a_present_module_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(requires.EXTRAS, "1")
    assert requires.module("json", "none").dumps([1]) == "[1]"


@pytest.mark.parametrize("required", [False, True])
def test_unavailable_skips_or_fails(monkeypatch: pytest.MonkeyPatch, required: bool) -> None:
    if required:
        monkeypatch.setenv("FASTSCAN_REQUIRE_SOMETHING", "1")
    else:
        monkeypatch.delenv("FASTSCAN_REQUIRE_SOMETHING", raising=False)
    expected = pytest.fail.Exception if required else pytest.skip.Exception
    with pytest.raises(expected, match="no widget here"):
        requires.unavailable("no widget here", "FASTSCAN_REQUIRE_SOMETHING")
