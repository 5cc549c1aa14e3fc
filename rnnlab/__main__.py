"""``python -m rnnlab demo`` runs the same command line as the ``rnnlab`` script."""
import sys

from rnnlab.cli import main

sys.exit(main())
