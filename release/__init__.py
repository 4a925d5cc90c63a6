"""Release kit for tt-inference-server.

Modules are plain Python: `tasks.py` parses arguments and calls them. Pure modules (planning, parsing,
rendering) import no I/O; clients (GitHub, registry, Docker engine, git) live in a module each and are built
only by `release.wiring`.
"""

__version__ = "0.1.0"
