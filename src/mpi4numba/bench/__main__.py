"""``python -m mpi4numba.bench <command>``."""

import sys

from . import main

sys.exit(main())
