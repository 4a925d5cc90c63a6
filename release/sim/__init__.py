"""Simulators for demos and tests: a generated Models CI history and a GitHub-compatible server for it."""
