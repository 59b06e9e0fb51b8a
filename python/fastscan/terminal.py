"""How the commands end: exit codes, a closed pipe, Ctrl-C (no tracebacks for either)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class Interrupted(Exception):  # noqa: N818 (what the user did, not an error of ours)
    """The run was stopped by Ctrl-C (or SIGTERM); the message says how to resume."""


def run_command(prog: str, main: Callable[[], int]) -> int:
    """Runs a command's `main`: a closed stdout (``... | head``) ends it quietly, Ctrl-C
    ends it with exit 130 and one line instead of a traceback."""
    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 print escaped
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        code = main()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away: point stdout at /dev/null so the flush at exit stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except (KeyboardInterrupt, Interrupted) as e:
        detail = f": {e}" if isinstance(e, Interrupted) and str(e) else ""
        print(f"\n{prog}: interrupted{detail}", file=sys.stderr, flush=True)
        if threading.active_count() > 1:
            # A worker busy in a long call (loading a model) would hold the exit until it
            # returns; everything finished is committed, so leave now.
            sys.stdout.flush()
            os._exit(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
