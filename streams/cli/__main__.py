"""``python -m streams.cli``: the ``nudge`` command, for processes started without the script."""

import sys

from streams.cli.main import main

sys.exit(main())
