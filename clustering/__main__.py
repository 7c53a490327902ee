"""``python -m clustering`` runs the command-line interface."""

from clustering.cli import main

main()
