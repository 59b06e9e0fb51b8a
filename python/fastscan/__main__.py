"""`python -m fastscan` runs the `fastscan` command."""

import sys

from fastscan.cli import main

sys.exit(main())
