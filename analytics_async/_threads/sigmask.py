"""The threads the library starts leave the process's signals to the application's threads.

A signal sent to a process (SIGTERM from docker or systemd, SIGINT, SIGUSR1 from an operator) is
taken by any one of its threads that does not block it. Python runs the handler in the main thread
only, at its next bytecode: when the C-level handler ran in another thread, a main thread asleep in
`time.sleep`, `select` or `socket.accept` is not woken, and the application's handler (or
`flush_on_signals`') waits until that call returns, seconds or minutes later. The kernel picks
the main thread first while it waits, but not always: with two threads busy with system calls (a
tight `select` loop), 11 to 18 of 100 signals sent from another process landed in one of them,
and 0 of 200 once they blocked it. So every thread the library starts blocks the asynchronous
signals from its first instruction, and the threads it starts in turn (the loop's executor, for
DNS and the spool) inherit that mask: a signal is always taken by a thread of the application's,
the main thread included.

The signals that a fault raises in the thread that caused it (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
SIGTRAP, SIGSYS, SIGABRT) and the ones a system call raises in its own thread (SIGPIPE, SIGXFSZ) are
left alone: blocking those would hide a crash or a failing write.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Final

__all__ = ["ASYNC_SIGNALS", "signals_blocked"]

_SYNCHRONOUS: Final = (
    "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP", "SIGSYS", "SIGABRT", "SIGPIPE", "SIGXFSZ",
)  # fmt: skip
_THREAD_DIRECTED: Final = frozenset(getattr(signal, name) for name in _SYNCHRONOUS if hasattr(signal, name))

ASYNC_SIGNALS: Final = (
    frozenset(signal.valid_signals()) - _THREAD_DIRECTED
    if hasattr(signal, "pthread_sigmask")
    else frozenset()
)
"""The signals the library's threads block (none where the platform has no thread signal masks)."""


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Block `ASYNC_SIGNALS` in this thread while the block runs: start the library's threads in it.

    A thread starts with the mask of the thread that started it, so a thread started here blocks
    them from its first instruction, with no moment in which a signal could land in it. A signal
    that arrives meanwhile stays pending for the process and is taken once the mask is put back (or
    by another thread), never lost.
    """
    if not ASYNC_SIGNALS:
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, ASYNC_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
