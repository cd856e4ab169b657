"""``python -m sklearn_deepprune.cli``: the ``deepprune`` command."""

import sys

from sklearn_deepprune.cli import main

sys.exit(main())
