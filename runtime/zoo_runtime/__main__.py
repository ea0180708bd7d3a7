"""`python -m zoo_runtime PKG -n 16 --seed 0 --out grid.png`: see zoo_runtime.cli."""

import sys

from zoo_runtime.cli import main

sys.exit(main())
