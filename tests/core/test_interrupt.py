"""Stop signals: SIGTERM raises like Ctrl-C inside the CLI, so cleanup code runs; exit codes 130 and 143."""

from __future__ import annotations

import os
import signal
import time

import pytest

from segmentation.core import interrupt


def test_sigterm_raises_terminated_inside_and_handlers_come_back_after() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(interrupt.Terminated) as stopped:
        with interrupt.stop_signals_raise():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
    assert isinstance(stopped.value, KeyboardInterrupt)  # code that handles Ctrl-C handles SIGTERM too
    assert interrupt.exit_code(stopped.value) == 143 and interrupt.exit_code(KeyboardInterrupt()) == 130
    assert interrupt.describe(stopped.value) == "terminated (SIGTERM)"
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_ignored_signal_stays_ignored() -> None:
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # like a background job started by a shell
    try:
        with interrupt.stop_signals_raise():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_signal_inside_deferred_is_raised_when_the_block_ends() -> None:
    reached = []
    with pytest.raises(interrupt.Terminated):
        with interrupt.stop_signals_raise():
            with interrupt.deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)  # the handler ran during this sleep, but raised nothing
                reached.append("end of block")
            reached.append("after the block")
    assert reached == ["end of block"]
