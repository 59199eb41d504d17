"""What runs in a pool worker process: its set-up (kernel environment, temp folder, signals, dying with the parent)
and the execution of one chapter with papermill, on a kernel that talks over Unix sockets."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

KERNEL_START_TIMEOUT_S = 120
CELL_TIMEOUT_S = 600
STOP_TIMEOUT_S = 5  # a stopped worker or kernel gets this long to exit after SIGTERM, then it is killed
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def init_worker(import_root: str, parent_pid: int, runtime_dir: str) -> None:
    """Set up a worker process: kernel environment, temp folder, signals, and dying with the parent.

    Chapter kernels import the `segmentation` package this process runs and draw headless. Kernel connection files and
    sockets go to the build's runtime folder, which the parent (or, after a SIGKILL, the next build) removes.
    """
    path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = import_root + (os.pathsep + path if path else "")
    os.environ["MPLBACKEND"] = "Agg"
    tempfile.tempdir = runtime_dir  # jupyter_client's connection files; IpcKernelManager's socket paths
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C hits the whole process group: the parent decides
    if hasattr(signal, "pthread_sigmask"):  # blocked while this worker started; a pending Ctrl-C is now dropped
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGTERM, _stop_worker)
    _die_with_parent(parent_pid)


def _stop_worker(signum: int, _frame: object) -> None:
    """SIGTERM in a worker: kill the kernels it started, then exit at once (the parent cleans up the files)."""
    kernels = psutil.Process().children(recursive=True)
    for kernel in kernels:
        try:
            kernel.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(kernels, timeout=STOP_TIMEOUT_S)  # reap them: no zombies
    os._exit(128 + signum)


def _die_with_parent(parent_pid: int) -> None:
    """SIGTERM this worker when the building process dies, even by SIGKILL (Linux: prctl; elsewhere: polling)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
                if os.getppid() != parent_pid:  # the parent died before prctl took effect
                    os.kill(os.getpid(), signal.SIGTERM)
                return
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    """Poll for the parent's death (where prctl is missing); then stop this worker like SIGTERM would."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


class IpcKernelManager(AsyncKernelManager):
    """A kernel manager that talks to its kernel over unique Unix sockets instead of TCP ports.

    Kernels started at the same moment pick TCP ports independently and can collide; a fresh socket path per
    kernel cannot. The sockets are removed when the kernel shuts down; in a worker they live in the build's
    runtime folder (its tempfile.tempdir), which goes too when a stopped build cannot shut its kernels down.
    """

    @default("transport")
    def _default_transport(self) -> str:
        """Unix sockets, not TCP."""
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        """A socket path prefix no other kernel uses."""
        return os.path.join(tempfile.gettempdir(), f"seg-kernel-{uuid.uuid4().hex[:16]}")

    log_path: str | None = None  # set per chapter in the worker: the kernel's own stdout/stderr go there

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        """Start the kernel with its console output in the chapter's kernel log, not on the build's terminal."""
        if IpcKernelManager.log_path:
            with open(IpcKernelManager.log_path, "ab") as log:  # the child keeps its own copy of the handle
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
                await super()._async_launch_kernel(kernel_cmd, **kw)
        else:
            await super()._async_launch_kernel(kernel_cmd, **kw)


def execute_notebook(
    template: str, output: str, parameters: dict[str, Any], cwd: str, kernel_log: str | None = None
) -> tuple[float, dict | None]:
    """Execute one template with papermill (in a worker process); return seconds and the failure, if any."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    IpcKernelManager.log_path = kernel_log  # one chapter at a time per worker process
    if kernel_log:
        Path(kernel_log).unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            _literal_path(template), _literal_path(output), parameters=parameters, kernel_name="python3",
            progress_bar=False, log_output=False,
            cwd=cwd, start_timeout=KERNEL_START_TIMEOUT_S, execution_timeout=CELL_TIMEOUT_S,
            kernel_manager_class=f"{__name__}.IpcKernelManager",
        )
    except PapermillExecutionError as exc:
        failure = {"source": exc.source, "ename": exc.ename, "evalue": exc.evalue}
        return time.perf_counter() - start, failure
    except Exception as exc:  # noqa: BLE001 - kernel died or timed out: report it like a failing cell
        return time.perf_counter() - start, {"source": "", "ename": type(exc).__name__,
                                             "evalue": str(exc).splitlines()[0] if str(exc) else ""}
    return time.perf_counter() - start, None


def _literal_path(path: str) -> str:
    """A path papermill takes as it is: it fills `{name}` fields in paths from the parameters, and a params file
    named `q{1}.yaml` (whose name is part of the output path) must not be read as one."""
    return path.replace("{", "{{").replace("}", "}}")
