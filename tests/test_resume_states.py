"""The filter's resume logic as a state machine: runs that finish, runs killed at a random
moment, two runs started at once, inputs that grow or vanish between runs. Whatever the
sequence, a final run leaves every current input's outputs byte-identical to a fresh run's,
lists the vanished inputs, and leaves no lock or staging behind."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import fastscan
from shards import jsonl_bytes, many_records, write_jsonl

BIN = Path(sys.executable).parent
NAMES = ("a.jsonl", "b.jsonl.zst", "sub/c.jsonl.gz")


def _outputs(out: Path, entry: dict[str, object]) -> dict[str, bytes]:
    outputs = entry["outputs"]
    assert isinstance(outputs, dict)
    files = [*outputs["kept"], outputs["scores"], outputs["rejects"]]
    return {f: (out / f).read_bytes() for f in files if f}


class Resume(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="fastscan-states-"))
        self.inputs = self.root / "in"
        self.out = self.root / "out"
        self.present: dict[str, int] = {}
        for k, name in enumerate(NAMES):
            self._write(name, 200 + 50 * k)
        self.vanished: set[str] = set()

    def _write(self, name: str, n: int) -> None:
        write_jsonl(self.inputs / name, jsonl_bytes(many_records(n)))
        self.present[name] = n

    def _command(self) -> list[str]:
        return [str(BIN / "fastscan-filter"), str(self.inputs), "-o", str(self.out), "-q"]

    @rule()
    def run_to_the_end(self) -> None:
        done = subprocess.run(self._command(), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    @rule(delay=st.floats(min_value=0.0, max_value=0.8))
    def run_killed(self, delay: float) -> None:
        with subprocess.Popen(self._command(), stderr=subprocess.DEVNULL) as proc:
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    @rule()
    def two_runs_at_once(self) -> None:
        with subprocess.Popen(self._command(), stderr=subprocess.PIPE, text=True) as first:
            second = subprocess.run(self._command(), capture_output=True, text=True)
            _, first_err = first.communicate()
        codes = sorted([first.returncode, second.returncode])
        assert codes in ([0, 0], [0, 2]), first_err + second.stderr

    @rule(name=st.sampled_from(NAMES), more=st.integers(min_value=1, max_value=200))
    def an_input_grows(self, name: str, more: int) -> None:
        self._write(name, self.present.get(name, 0) + more)
        self.vanished.discard(name)

    @precondition(lambda self: len(self.present) > 1)
    @rule(data=st.data())
    def an_input_vanishes(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.present)))
        (self.inputs / name).unlink()
        del self.present[name]
        self.vanished.add(name)

    @invariant()
    def no_staging_from_finished_runs(self) -> None:
        lock = self.out / "_lock"
        if lock.exists():  # only a killed run leaves its lock (taken over as stale)
            holder = json.loads(lock.read_text(encoding="utf-8") or "{}")
            assert holder.get("pid") is None or isinstance(holder["pid"], int)

    def teardown(self) -> None:
        try:
            done = subprocess.run([*self._command(), "--json"], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            report = json.loads(done.stdout)
            fresh = fastscan.filter_shards(self.inputs, self.root / "fresh")
            mine = {e["relative"]: e for e in report["shards"]}
            assert sorted(mine) == sorted(self.present)
            for entry in fresh["shards"]:
                ours = mine[entry["relative"]]
                assert ours["read"] == entry["read"]
                assert _outputs(self.out, ours) == _outputs(self.root / "fresh", entry)
            listed = {v["relative"] for v in report["vanished_inputs"]}
            assert listed <= self.vanished
            assert not (self.out / "_lock").exists()
            assert not (self.out / "_tmp").exists()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


TestResume = Resume.TestCase
TestResume.settings = settings(max_examples=6, stateful_step_count=6, deadline=None)
