"""`python -m molvis` runs the command line."""

import sys

from molvis.cli.main import main

sys.exit(main())
