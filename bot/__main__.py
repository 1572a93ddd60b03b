"""``python -m bot`` runs the ``seminar`` command line."""

import sys

from bot.cli import main

sys.exit(main())
