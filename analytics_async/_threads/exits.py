"""Every normal way out of a process, hooked, so that open drop-in clients send what they hold.

`atexit` runs only when the interpreter itself winds down. Child processes of the common process
models leave by `os._exit` and never run it:

- multiprocessing children (`Pool` workers, `maxtasksperchild` included; `ProcessPoolExecutor`
  workers; `Process`) run the `multiprocessing.util` finalizers, then `os._exit`;
- billiard's `Process` (Celery's fork of multiprocessing) does the same with `billiard.util`;
- Celery's prefork pool children (billiard pool workers, `--max-tasks-per-child` included) send
  Celery's `worker_process_shutdown` signal, then `os._exit`, with no finalizer.

So a process is covered by `atexit`, by a finalizer of each of those `util` modules that is imported
(none is imported for it: a process they did not start has no exit of theirs to hook), and by a
receiver of Celery's signal once Celery is imported. A child's bootstrap clears the finalizers it
inherited, so the finalizer is made again after it (`register_after_fork`) and in every forked child.
The hook is idempotent: closing a client twice does nothing the second time.

A signal's default action (SIGTERM from docker or systemd) skips all of these. Taking signals over
is the application's decision, so `SignalFlush` is installed only when asked (`sync.flush_on_signals`):
it flushes, then does what the signal did before (the previous handler, or the default action).
"""

from __future__ import annotations

import atexit
import functools
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, Final

from .sigmask import signals_blocked

__all__ = ["ExitHooks", "SignalFlush"]

logger = logging.getLogger("analytics_async")

FINALIZER_PRIORITY: Final = 100
"""Above every finalizer of multiprocessing's own (a pool's is 15), so ours runs first, while the
process still has its threads and connections."""
_PROCESS_MODULES: Final = ("multiprocessing", "billiard")


class ExitHooks:
    """Runs `close` once as the process leaves, whichever of the exits above it takes."""

    def __init__(self, close: Callable[[], None]) -> None:
        self._close = close
        self._finalizers: dict[str, Any] = {}
        """The finalizer made in each process module's registry (a `util.Finalize`)."""
        self._reborn: set[str] = set()
        """Process modules told to make the finalizer again after a child's bootstrap (inherited by
        forked children, as that registration is)."""
        self._celery = False
        atexit.register(self._run, "interpreter exit")

    def cover(self) -> None:
        """Hook the exits of this process that exist now; call when a client opens and after a fork.

        Cheap when there is nothing new to hook: it imports nothing that is not imported already.
        """
        for name in _PROCESS_MODULES:
            if name in sys.modules:
                self._finalize(name)
        if not self._celery and "celery" in sys.modules:
            self._celery = True
            from celery import signals  # noqa: PLC0415 - only where Celery is imported already

            signals.worker_process_shutdown.connect(self._on_celery_child_exit, weak=False)

    def _finalize(self, name: str) -> None:
        util = importlib.import_module(f"{name}.util")
        finalizer = self._finalizers.get(name)
        if finalizer is None or not finalizer.still_active():  # cleared by a child's bootstrap
            self._finalizers[name] = util.Finalize(
                None, self._run, args=(f"{name} process exit",), exitpriority=FINALIZER_PRIORITY
            )
        if name not in self._reborn:
            self._reborn.add(name)
            util.register_after_fork(self, ExitHooks.cover)  # after a child's bootstrap cleared them

    def _on_celery_child_exit(self, **_: object) -> None:
        self._run("Celery worker_process_shutdown")

    def _run(self, why: str) -> None:
        try:
            self._close()
        except Exception:
            logger.exception("analytics_async: closing clients at %s (pid %d) failed", why, os.getpid())


Handler = Callable[[int, FrameType | None], Any] | int | None
"""What `signal.getsignal` returns: a Python handler, SIG_DFL, SIG_IGN, or None (set from C)."""


class SignalFlush:
    """On each of `signals`: run `flush(timeout)` (bounded), then what the signal did before."""

    def __init__(self, flush: Callable[[float], None]) -> None:
        self._flush = flush
        self._timeout = 5.0
        self._previous: dict[int, Handler] = {}

    def install(self, timeout: float, signals: Iterable[int]) -> Callable[[], None]:
        """Install the handler (main thread only); returns the function that puts the old ones back.

        Installing again for a signal already handled updates the timeout and keeps the handler
        that was there before the first install.
        """
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                "flush_on_signals() must be called in the main thread: Python runs signal handlers there"
            )
        self._timeout = timeout
        installed = []
        for sig in signals:
            if sig not in self._previous:
                self._previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._on_signal)
                installed.append(sig)
        return functools.partial(self._restore, installed)

    def _restore(self, installed: list[int]) -> None:
        for sig in installed:
            previous = self._previous.pop(sig, None)
            if signal.getsignal(sig) == self._on_signal:  # not replaced by someone else meanwhile
                signal.signal(sig, signal.SIG_DFL if previous is None else previous)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # The flush runs in a thread of its own, joined with a bound: this handler interrupts the main
        # thread wherever it was, possibly inside a lock the flush would need.
        worker = threading.Thread(target=self._flush_logged, args=(signum,), daemon=True,
                                  name="analytics_async-signal-flush")  # fmt: skip
        with signals_blocked():  # a second SIGTERM is taken by the app's threads, not this one
            worker.start()
        worker.join(self._timeout + 1)
        previous = self._previous.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:  # the default action, exactly as without us
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _flush_logged(self, signum: int) -> None:
        try:
            self._flush(self._timeout)
        except Exception:
            logger.exception("analytics_async: flushing at %s failed", signal.Signals(signum).name)
