"""``python -m evonas`` runs the command line."""

from evonas.cli import main

main()
