"""Fork safety: a forked child starts with no events, tasks or connections of its parent.

After `os.fork()` (gunicorn or uwsgi preloading the app, Celery's prefork pool, multiprocessing) the
child holds a copy of every instance, parent's queued events included. Sending those would duplicate
them (the parent sends them too), and the parent's tasks, timers and HTTP connections belong to an
event loop that does not run in the child. So in the child every live instance forgets all of that
and starts empty; its settings, handlers and plugins stay. The parent is untouched.

What the child forgets is kept referenced in `ABANDONED`, never used: dropping it would run the
finalizers of tasks and sessions of a loop that does not run here ("Task was destroyed but it is
pending!", "Unclosed client session"), and closing the parent's sockets is the parent's business.

Python runs these hooks for `os.fork()` only. uWSGI forks its workers in C and runs none of them
(unless `--py-call-osafterfork`): its workers shared the master's message-id sequence, so two
workers sent the same messageIds (which Segment deduplicates: lost events). Inside uWSGI the reset
is also chained to uWSGI's `post_fork_hook`; and `check()`, called where a loop thread or a pipeline
is about to be made, resets a process whose pid changed without either hook.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Callable
from typing import Protocol

from .._message.build import reseed_ids

__all__ = ["ABANDONED", "ForkAware", "check", "register"]


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


_pid = os.getpid()
"""The process the instances belong to: a child that finds another pid was forked without hooks."""
without_hooks = False
"""This process was forked without Python's at-fork hooks (found by `check`): threads the parent had
started are still listed by `threading` here, and an exit may wait for them forever."""


def _after_fork_in_child() -> None:
    global _pid  # noqa: PLW0603 - one per process
    _pid = os.getpid()
    for instance in list(_LIVE):
        instance.after_fork()


def check() -> None:
    """Reseed the ids and reset every instance if this process was forked without Python's hooks.

    Also uWSGI's post-fork hook (a no-op where `--py-call-osafterfork` ran Python's). One
    `os.getpid()`, a system call: call it where a loop thread or a pipeline is made, not per event.
    """
    global without_hooks  # noqa: PLW0603 - one per process
    if os.getpid() != _pid:
        without_hooks = True
        reseed_ids()
        _after_fork_in_child()


def _hook_uwsgi(uwsgi: object) -> None:
    """Inside uWSGI: chain our reset to its post-fork hook, keeping the application's."""
    decorators = sys.modules.get("uwsgidecorators")
    chain = getattr(decorators, "postfork_chain", None)
    if isinstance(chain, list):  # its hook runs this list, and it replaces any hook set before it
        chain.append(check)
        return
    previous: Callable[[], object] | None = getattr(uwsgi, "post_fork_hook", None)

    def post_fork_hook() -> None:
        check()
        if previous is not None:
            previous()

    uwsgi.post_fork_hook = post_fork_hook  # type: ignore[attr-defined]


if hasattr(os, "register_at_fork"):  # POSIX; Windows cannot fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
if "uwsgi" in sys.modules:  # the module uWSGI gives the applications it runs
    _hook_uwsgi(sys.modules["uwsgi"])
