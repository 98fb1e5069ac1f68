"""Executing runs: executors behind one ``concurrent.futures`` interface, ``execute_run``, run records."""
