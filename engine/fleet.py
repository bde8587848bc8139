"""A fleet: interchangeable instances of one kind that an operator adds, removes and loses.

Web replicas, database read replicas and LLM serving replicas are managed the same way. Scaling
out adds new instances; scaling in does not kill the newest ones but drains them: they take no
new work, finish what they hold, and leave once they are empty. An instance can also go down (a
failed health check): it gets no new work until it is back, and what it already holds finishes.
Whatever routes work (the load balancer, the read/write split, the LLM router) looks only at the
fleet's `routable` list.
"""

from __future__ import annotations

from typing import Callable


class Fleet:
    """Instances made by `make(index)`, each with `name`, `up`, `draining`, `warming` and `idle()`."""

    def __init__(self, make: Callable[[int], object], count: int):
        """Start `count` instances."""
        self._make = make
        self._next_index = 0
        self.members: list = []   # every instance still billed: serving, down or draining
        self.routable: list = []  # the ones that take new work: up, not draining, not warming up
        self.version = 0  # grows at every change of members or routing: whoever counts them knows when to recount
        self.resize(count)

    def serving(self) -> list:
        """Return the instances that are not draining (up or down)."""
        return [m for m in self.members if not m.draining]

    def resize(self, count: int, warming: bool = False) -> list:
        """Grow to `count` serving instances, or drain the newest ones down to `count`; return the new ones.

        New instances that are `warming` take no work until `ready()` is called for them.
        """
        serving = self.serving()
        added = []
        for _ in range(count - len(serving)):
            member = self._make(self._next_index)
            member.warming = warming
            added.append(member)
            self._next_index += 1
        self.members.extend(added)
        for member in serving[count:]:
            member.draining = True
        self._refresh()
        return added

    def ready(self, member) -> None:
        """A warming instance has started: it takes work from now on."""
        member.warming = False
        self._refresh()

    def set_up(self, name: str, up: bool, refresh: bool = True) -> bool:
        """Mark instance `name` up or down; return False if no serving instance has that name.

        With `refresh` False, routing keeps its old view until `refresh()` (a health check's delay).
        """
        for member in self.serving():
            if member.name == name:
                member.up = up
                if refresh:
                    self._refresh()
                return True
        return False

    def refresh(self) -> None:
        """Let routing see the instances as they are now."""
        self._refresh()

    def drop_drained(self) -> None:
        """Forget drained instances that have finished their last piece of work."""
        if any(m.draining for m in self.members):
            self.members = [m for m in self.members if not (m.draining and m.idle())]
            self.version += 1

    def _refresh(self) -> None:
        """Recompute which instances take new work."""
        self.routable = [m for m in self.members if m.up and not m.draining and not m.warming]
        self.version += 1
