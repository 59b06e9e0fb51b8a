"""Every shell and Python example of the README runs, on the bundled sample shards.

A block fenced as ``bash`` or ``python`` is an example; ``text`` and ``toml`` blocks are
synopses and file contents. An example that needs what a test machine does not have (a Ray
cluster) is preceded by ``<!-- readme-test: skip: REASON -->``; those are listed, and there
may be only a few. The blocks run in README order in one directory holding ``shards/`` (a copy
of examples/shards), ``cascade.toml`` (examples/cascade.toml) and ``toolcalls/``
(examples/toolcalls), so a block may use files an earlier one wrote.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parent.parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.M | re.S)
SKIP = re.compile(r"<!-- readme-test: skip: (.+?) -->\n$")


def examples() -> list[tuple[str, str, int, str | None]]:
    """(language, code, line, skip reason) of each bash / python block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        language = m.group(1)
        if language not in ("bash", "python"):
            continue
        skip = SKIP.search(text[: m.start()])
        reason = skip.group(1) if skip and skip.end() == m.start() else None
        found.append((language, m.group(2), text.count("\n", 0, m.start()) + 1, reason))
    return found


def test_the_readme_has_examples_and_few_skips() -> None:
    found = examples()
    run = [e for e in found if e[3] is None]
    assert len(run) >= 6
    assert len(found) - len(run) <= 3
    for language, _, line, reason in found:
        if reason:
            print(f"README.md:{line} ({language}) not run: {reason}")


def test_every_readme_example_runs(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples" / "shards", tmp_path / "shards")
    shutil.copy(REPO / "examples" / "cascade.toml", tmp_path / "cascade.toml")
    shutil.copytree(REPO / "examples" / "toolcalls", tmp_path / "toolcalls")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "FASTSCAN_THREADS": "2",
    }
    for language, code, line, reason in examples():
        if reason:
            continue
        command = (
            ["bash", "-eu", "-c", code] if language == "bash" else [sys.executable, "-c", code]
        )
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"README.md:{line} ({language}) failed:\n{done.stderr}"
        assert "Traceback" not in done.stderr, f"README.md:{line}:\n{done.stderr}"
    assert (tmp_path / "out" / "report.html").is_file()
    assert any((tmp_path / "kept-datatrove").iterdir())
    assert (tmp_path / "tc-check" / "violations.parquet").is_file()
    assert (tmp_path / "tc-hermes" / "converted" / "calls.jsonl").is_file()
    assert (tmp_path / "extracted" / "records.hermes.jsonl").is_file()
