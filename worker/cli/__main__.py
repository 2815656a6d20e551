"""``python -m worker.cli``: the ``narrator`` command without its installed script."""

import sys

from worker.cli import main

sys.exit(main())
