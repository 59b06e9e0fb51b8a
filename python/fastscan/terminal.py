"""How the commands end: exit codes, a closed pipe, Ctrl-C (no tracebacks for either)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: The exit status after SIGTERM (what ``timeout``, Slurm and Kubernetes send): 128 + 15.
EXIT_TERMINATED = 128 + signal.SIGTERM


class Interrupted(Exception):  # noqa: N818 (what the user did, not an error of ours)
    """The run was stopped by Ctrl-C (or SIGTERM); the message says how to resume."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread where Ctrl-C raises `KeyboardInterrupt`, so a run
    stops the same way: staging removed, lock released, a resume hint."""


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 shard``, ``2 shards``, ``1,024 calls``: a number and its noun, agreeing."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def threads_arg(text: str) -> int:
    """``--threads``: a positive integer (argparse makes anything else a usage error)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of threads")
    return n


_received: list[int] = []
#: The status a command ends with when its reader closes stdout (``| head``): the one its
#: work earned, set before it prints its results (0 until a command says otherwise).
_if_pipe_closes: list[int] = [EXIT_OK]


def status_if_pipe_closes(code: int) -> None:
    """Says, before printing results, which status the command ends with if the reader of
    stdout goes away while they print: a closed pipe never changes the exit status."""
    _if_pipe_closes[0] = code


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM stops it as Ctrl-C does (where SIGTERM is not ignored
    and this is the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN:
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        _received.append(signum)
        raise Terminated

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(prog: str, main: Callable[[], int]) -> int:
    """Runs a command's `main`: a closed stdout (``... | head``) ends it quietly with the
    status its work earned (`status_if_pipe_closes`; 0 by default), Ctrl-C ends it with exit
    130 (SIGTERM 143) and one line instead of a traceback."""
    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 print escaped
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    _received.clear()
    _if_pipe_closes[0] = EXIT_OK
    try:
        with _sigterm_as_interrupt():
            code = main()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away: point stdout at /dev/null so the flush at exit stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return _if_pipe_closes[0]
    except (KeyboardInterrupt, Interrupted) as e:
        detail = f": {e}" if isinstance(e, Interrupted) and str(e) else ""
        how = "terminated (SIGTERM)" if _received else "interrupted"
        code = EXIT_TERMINATED if _received else EXIT_INTERRUPTED
        print(f"\n{prog}: {how}{detail}", file=sys.stderr, flush=True)
        if threading.active_count() > 1:
            # A worker busy in a long call (loading a model) would hold the exit until it
            # returns; everything finished is committed, so leave now.
            sys.stdout.flush()
            os._exit(code)
        return code
