"""Fork safety: a forked child starts with no events, tasks or connections of its parent.

After `os.fork()` (gunicorn or uwsgi preloading the app, Celery's prefork pool, multiprocessing) the
child holds a copy of every instance, parent's queued events included. Sending those would duplicate
them (the parent sends them too), and the parent's tasks, timers and HTTP connections belong to an
event loop that does not run in the child. So in the child every live instance forgets all of that
and starts empty; its settings, handlers and plugins stay. The parent is untouched.

What the child forgets is kept referenced in `ABANDONED`, never used: dropping it would run the
finalizers of tasks and sessions of a loop that does not run here ("Task was destroyed but it is
pending!", "Unclosed client session"), and closing the parent's sockets is the parent's business.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["ABANDONED", "ForkAware", "register"]


class ForkAware(Protocol):
    """Something that must start empty in a forked child."""

    def after_fork(self) -> None:
        """Called in the child, right after the fork, before any other code of the child runs."""


_LIVE: weakref.WeakSet[ForkAware] = weakref.WeakSet()
ABANDONED: list[object] = []
"""The parent's tasks, loops and sessions, kept alive and unused in the child."""


def register(instance: ForkAware) -> None:
    """Call `instance.after_fork()` in every child forked while it is alive."""
    _LIVE.add(instance)


def _after_fork_in_child() -> None:
    for instance in list(_LIVE):
        instance.after_fork()


if hasattr(os, "register_at_fork"):  # POSIX; Windows cannot fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
