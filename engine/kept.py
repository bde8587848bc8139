"""What a process keeps of its uploads: the last few, by the name their content gives them.

An uploaded trace or a measured similarity curve is named by a hash of its content, and a scenario
names it. The process keeps the most recently used ones (a save or a search carries them to any
other process); the oldest go first, and the app's sessions share them, so a lock guards each.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class Kept(Generic[T]):
    """The last `limit` things kept by name, least recently used first out, safe across threads."""

    def __init__(self, limit: int = 16) -> None:
        self.limit = limit
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, name: str, item: T) -> str:
        """Keep `item` under `name` (forgetting the least recently used past the limit); return the name."""
        with self._lock:
            self._items[name] = item
            self._items.move_to_end(name)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return name

    def get(self, name: str) -> T | None:
        """Return what is kept under `name` (now the most recently used), or None."""
        with self._lock:
            item = self._items.get(name)
            if item is not None:
                self._items.move_to_end(name)
            return item
