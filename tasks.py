"""Release tasks (invoke). Each task parses its flags and calls one function in `release.*`.

`inv --list` shows them; `inv --help NAME` documents every flag. Errors from the kit print one line and exit
non-zero (see release/cli.py).
"""

from __future__ import annotations

from invoke import Collection

ci = Collection("ci")
spec = Collection("spec")
images = Collection("images")
git = Collection("git")

ns = Collection(ci, spec, images, git)
