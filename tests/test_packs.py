"""Loading packs: built-ins, files, dicts; errors beyond the shared vectors."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import fastscan


def test_builtin_tool_use_pack() -> None:
    assert "tool-use" in fastscan.builtin_packs()
    pack = fastscan.PatternPack.builtin("tool-use")
    assert pack.name == "tool-use"
    assert {"tool_call", "schema", "api_doc", "http", "sdk_code", "code"} <= set(pack.group_names)
    want = {
        "openai",
        "hermes",
        "llama3",
        "pythonic",
        "mistral",
        "glaive",
        "xlam",
        "llmcompiler",
        "react",
    }
    assert want <= set(pack.format_names)
    assert all(f.group == "tool_call" for f in pack.formats)
    assert len(pack.patterns) > 100
    assert all(g.description for g in pack.groups)


def test_unknown_builtin_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="tool-use"):
        fastscan.PatternPack.builtin("nope")
    with pytest.raises(ValueError, match="neither a built-in pack"):
        fastscan.PatternPack.load("no/such/pack.toml")


def test_pack_from_file_toml_and_json(tmp_path: Path) -> None:
    toml_file = tmp_path / "p.toml"
    toml_file.write_text('[pack]\nname = "mine"\n[[group]]\nname = "g"\nliterals = ["x"]\n')
    json_file = tmp_path / "p.json"
    json_file.write_text('{"group": [{"name": "g", "literals": ["x"]}]}')
    a = fastscan.PatternPack.load(toml_file)
    b = fastscan.PatternPack.load(str(json_file))
    assert a.name == "mine"
    assert a.origin == str(toml_file)
    assert b.syntax == "json"
    assert a.group_names == b.group_names == ["g"]
    assert fastscan.Scanner(a).scan_one("xx")["g"] == fastscan.Scanner(b).scan_one("xx")["g"] == 2


def test_pack_errors_from_dict_and_json() -> None:
    with pytest.raises(fastscan.PackError) as info:
        fastscan.PatternPack.from_dict({"group": [{"name": "g", "regexes": ["(?P<x"]}]})
    assert info.value.group == "g"
    assert info.value.pattern == "(?P<x"
    with pytest.raises(fastscan.PackError, match="JSON syntax"):
        fastscan.PatternPack("{not json", "json")
    with pytest.raises(fastscan.PackError, match="null"):
        fastscan.PatternPack.from_dict({"group": [{"name": "g", "literals": [None]}]})
    with pytest.raises(ValueError, match="syntax must be"):
        fastscan.PatternPack("", "yaml")  # type: ignore[arg-type]


def test_scanner_rejects_bad_pack_as_packerror() -> None:
    with pytest.raises(fastscan.PackError):
        fastscan.Scanner(fastscan.PatternPack.from_toml("[[group]]\nname = 'g'\n"))


def test_pack_pickles_and_compares() -> None:
    pack = fastscan.PatternPack.builtin("tool-use")
    clone = pickle.loads(pickle.dumps(pack))
    assert clone == pack
    assert hash(clone) == hash(pack)
    assert clone.patterns == pack.patterns
    assert "tool-use" in repr(pack)
