"""ns-3 scenario templates and the renderer that turns a scenario into a program."""
