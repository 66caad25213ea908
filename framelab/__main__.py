"""``python -m framelab``: the same command line as ``framelab``."""

import sys

from framelab.cli import main

sys.exit(main())
