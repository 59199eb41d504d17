"""The process pool that executes chapters in parallel, and stopping it.

When the build fails, is interrupted (Ctrl-C) or terminated (SIGTERM, see segmentation.core.interrupt), the pool's
workers and the kernels they started are stopped at once, not waited for, and their partial notebooks, kernel
logs, connection files and sockets are removed. Workers ignore SIGINT (Ctrl-C reaches the whole process group; the
parent decides) and die with the parent even when it is SIGKILLed (their kernels follow them); what such a killed
run leaves is removed by the next run.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import shutil
import signal
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from segmentation.core import atomic, interrupt
from segmentation.report.chapters.keys import IMPORT_ROOT
from segmentation.report.chapters.notebooks import (
    chapter_error,
    finish_notebook,
    kernel_log,
)
from segmentation.report.chapters.plan import Chapter
from segmentation.report.chapters.worker import (
    STOP_TIMEOUT_S,
    execute_notebook,
    init_worker,
)

POLL_S = 0.25  # how often the wait for chapters looks for a stop signal
RUNTIME_PREFIX = "seg-kernels-"  # + the building process's pid: one temp folder per build (connection files, sockets)


def run_chapters(pending: list[tuple[Chapter, str, Path]], base: dict[str, str], jobs: int | None) -> Iterable:
    """Run pending chapters on a process pool; yield each as it finishes; raise on the first failure.

    On any exception (a failing chapter, Ctrl-C, SIGTERM, the caller closing the generator) the workers and
    their kernels are stopped at once and everything they left is removed; only a failed chapter's kernel log
    stays (its error message may point to it).
    """
    workers = max(1, min(jobs or default_jobs(), len(pending)))
    runtime = tempfile.mkdtemp(prefix=f"{RUNTIME_PREFIX}{os.getpid()}-")
    context = multiprocessing.get_context("spawn")  # no forked copies of the caller's threads or open files
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=init_worker,
                                  initargs=(str(IMPORT_ROOT), os.getpid(), runtime))
    futures = {}
    failed_log = None
    done = False
    try:
        # a stop signal is raised between these calls, never inside the pool's locks (interrupt.deferred)
        with interrupt.deferred(), _ctrl_c_held_from_new_workers():  # submit() starts the workers
            for chapter, key, notebook in pending:
                partial = notebook.with_name(f".{notebook.stem}.running.ipynb")
                log = kernel_log(notebook)
                args = (str(chapter.template), str(partial), {**base, **chapter.parameters}, os.getcwd(),
                        str(log))
                futures[pool.submit(execute_notebook, *args)] = (chapter, key, notebook, partial)
        running = set(futures)
        while running:
            with interrupt.deferred():
                finished, running = cf.wait(running, timeout=POLL_S, return_when=cf.FIRST_COMPLETED)
            for future in sorted(finished, key=list(futures).index):
                chapter, key, notebook, partial = futures[future]
                with interrupt.deferred():  # result() takes the future's lock: no stop signal raised inside it
                    seconds, failure = future.result()
                if failure is not None:
                    failed_log = kernel_log(notebook)
                    raise chapter_error(chapter, partial, notebook, failure)
                finish_notebook(partial, notebook, chapter, key)
                yield chapter, key, notebook, seconds
        done = True
    finally:
        if not done:
            _stop_workers(pool)  # do not wait for the chapters still running: they would finish for nothing
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(runtime, ignore_errors=True)
        for _chapter, _key, notebook, partial in futures.values():
            partial.unlink(missing_ok=True)
            if not done:
                for leftover in atomic.temporaries(notebook.parent, notebook.name):  # finish_notebook cut short
                    leftover.unlink(missing_ok=True)
                if kernel_log(notebook) != failed_log:
                    kernel_log(notebook).unlink(missing_ok=True)


@contextmanager
def _ctrl_c_held_from_new_workers() -> Iterator[None]:
    """Start worker processes with SIGINT blocked: Ctrl-C hits the whole process group, and a worker still
    importing (before its initializer ignores SIGINT) would otherwise die with a traceback on the terminal. The
    mask is inherited by the worker, which unblocks SIGINT once it ignores it; this process still gets Ctrl-C
    (through its other threads, or when the mask is restored)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool's worker processes and every process they started (kernels) now: SIGTERM, then SIGKILL.

    The workers are waited for through their multiprocessing handles, which record how they ended: reaped by
    anything else (psutil), a worker would stay "alive" to the pool, whose shutdown then waits for it for ever.
    """
    workers = dict(getattr(pool, "_processes", None) or {})  # the pool's own record: pid → multiprocessing.Process
    procs: list[psutil.Process] = []
    for pid in workers:
        try:
            worker = psutil.Process(pid)
            procs += [worker, *worker.children(recursive=True)]  # before the workers go: kernels are reparented
        except psutil.NoSuchProcess:
            continue
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    kernels = [proc for proc in procs if proc.pid not in workers]
    for worker_process in workers.values():
        worker_process.join(STOP_TIMEOUT_S)
        if worker_process.is_alive():
            worker_process.kill()
            worker_process.join(STOP_TIMEOUT_S)
    _gone, alive = psutil.wait_procs(kernels, timeout=STOP_TIMEOUT_S)  # not our children: psutil only watches them
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=STOP_TIMEOUT_S)


def remove_dead_runtime_dirs(tmp: Path | None = None) -> list[Path]:
    """Remove the kernel runtime folders of builds whose process is gone (it was SIGKILLed); return them."""
    removed = []
    for folder in Path(tmp or tempfile.gettempdir()).glob(f"{RUNTIME_PREFIX}*"):
        pid = folder.name.removeprefix(RUNTIME_PREFIX).split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    """True when a process with this pid runs (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def default_jobs() -> int:
    """Chapters run at once: one per core plus one, because a kernel spends part of its life waiting (start-up)."""
    return (os.cpu_count() or 1) + 1
