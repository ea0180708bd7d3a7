"""`python -m zoo` (used by `torchrun -m zoo ...`)."""

from zoo.cli import main

main()
