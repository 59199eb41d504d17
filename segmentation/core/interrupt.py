"""Stop signals: SIGTERM becomes an exception like Ctrl-C's KeyboardInterrupt, so `finally` blocks clean up.

Without this, SIGTERM ends the process at once: no cleanup code runs, child processes are orphaned and staging
files stay behind. Inside `stop_signals_raise()` the first SIGINT raises KeyboardInterrupt and the first SIGTERM
raises `Terminated` (a KeyboardInterrupt, so code that handles Ctrl-C handles both); the cleanup then runs. A
second stop signal while that cleanup runs ends the process at once (the default action), as a second Ctrl-C
does in most tools; child processes still go, because workers die with their parent (see report.chapters).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as a shell reports a process ended by Ctrl-C
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def exit_code(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def describe(exc: KeyboardInterrupt) -> str:
    """The one line a stopped command prints."""
    return "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"


_deferring = 0  # > 0 inside `deferred()`: a stop signal is recorded, not raised
_pending: int | None = None  # the stop signal received while deferring


def _stop_exception(signum: int) -> KeyboardInterrupt:
    """The exception a stop signal raises."""
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise (once) in the main thread; the previous handlers come back after.

    A signal the process ignores (e.g. SIGINT of a background job) stays ignored. Outside the main thread
    (where Python cannot install handlers) this changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    handled = [sig for sig, handler in previous.items() if handler is not signal.SIG_IGN]

    def stop(signum: int, _frame: object) -> None:
        global _pending
        for sig in handled:
            signal.signal(sig, signal.SIG_DFL)  # a second signal during the cleanup stops the process at once
        if _deferring:
            _pending = signum
            return
        raise _stop_exception(signum)

    for sig in handled:
        signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig in handled:
            signal.signal(sig, previous[sig])


@contextmanager
def deferred() -> Iterator[None]:
    """Inside, a stop signal is only recorded; it is raised when the block ends, at a point of our choosing.

    An exception raised from a signal handler can land anywhere, also inside library code that holds a lock (for
    example between a `concurrent.futures` waiter acquiring its lock and the `try` that releases it), leaving that
    lock held and the cleanup deadlocked. Waiting on worker processes therefore happens inside `deferred()`.
    """
    global _deferring, _pending
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring and _pending is not None:
        signum, _pending = _pending, None
        raise _stop_exception(signum)
