"""``python -m ani.orchestrator.cli``: the same as the ``ani`` command."""

from ani.orchestrator.cli.main import main

main()
