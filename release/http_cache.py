"""An on-disk cache of JSON answers keyed by URL, with their ETag (for `If-None-Match`).

One file per URL under the cache folder, written atomically; a torn or unreadable entry counts as missing.
The URL (never a token) is stored alongside so that a hash collision cannot return another URL's answer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from release import fsio


class FileResponseCache:
    def __init__(self, root: Path, *, read_only: bool = False) -> None:
        self.root = Path(root)
        self.read_only = read_only

    def _file(self, key: str) -> Path:
        return self.root / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def get(self, key: str) -> tuple[str, Any] | None:
        try:
            entry = json.loads(self._file(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("url") != key or not entry.get("etag"):
            return None
        return str(entry["etag"]), entry.get("value")

    def put(self, key: str, etag: str, body: Any) -> None:
        if self.read_only:
            return
        fsio.atomic_write(self._file(key), json.dumps({"url": key, "etag": etag, "value": body}))
