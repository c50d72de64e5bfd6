"""`python -m keylab` is the same as the `keylab` command."""

import sys

from keylab.cli import main

sys.exit(main())
