"""A deterministic kill for the publish tests: a child process SIGKILLs itself before a chosen publish step."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable


def kill_at_step(kill_at: int, *, prefix: str = "", on_first: Callable[[], None] | None = None) -> None:
    """Make `segmentation.core.atomic` print each publish step (after `prefix`) and SIGKILL this process before step
    `kill_at` (1-based; 0: never); `on_first` runs before the first step (e.g. to record what was staged)."""
    from segmentation.core import atomic

    steps: list[str] = []

    def hook(label: str) -> None:
        steps.append(label)
        if on_first is not None and len(steps) == 1:
            on_first()
        print(f"{prefix}{label}", flush=True)
        if len(steps) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    atomic.step_hook = hook
