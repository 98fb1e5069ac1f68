"""The ``ani`` command line: one click group (``main``), one module per command group, thin over the library."""

from ani.orchestrator.cli.main import main

__all__ = ["main"]
