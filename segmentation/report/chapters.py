"""Chapters: which notebooks a report has, executing them with papermill in parallel, and the execution cache.

A chapter is re-executed only when its cache key changes. The key covers everything its output depends on:
the template, the params file, the mart files, the segment id and the source of the code chapters run
(a figure function changed → the figures change).

Stopping: when the build fails, is interrupted (Ctrl-C) or terminated (SIGTERM, see segmentation.core.interrupt), the
pool's workers and the kernels they started are stopped at once, not waited for, and their partial notebooks,
kernel logs, connection files and sockets are removed. Workers ignore SIGINT (Ctrl-C reaches the whole process
group; the parent decides) and die with the parent even when it is SIGKILLed (their kernels follow them);
what such a killed run leaves is removed by the next run.
"""

from __future__ import annotations

import ast
import concurrent.futures as cf
import ctypes
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

import segmentation
from segmentation.config.params import Params
from segmentation.core import atomic, interrupt
from segmentation.core.fingerprint import fingerprint
from segmentation.mart.store import MART_FILES, file_sha256
from segmentation.report.errors import ChapterFailedError
from segmentation.report.escape import md_text
from segmentation.report.figures import segment_slug

PACKAGE_DIR = Path(segmentation.__file__).resolve().parent
IMPORT_ROOT = PACKAGE_DIR.parent  # kernels import this very package (a checkout, or site-packages)
SEGMENT_TEMPLATE = "05_segment.ipynb"  # executed once per segment; every other template once per report
MIGRATION_TEMPLATE = "08_migration.ipynb"  # only when the mart holds a current segment migration
KERNEL_START_TIMEOUT_S = 120
POLL_S = 0.25  # how often the wait for chapters looks for a stop signal
CELL_TIMEOUT_S = 600
STOP_TIMEOUT_S = 5  # a stopped worker or kernel gets this long to exit after SIGTERM, then it is killed
RUNTIME_PREFIX = "seg-kernels-"  # + the building process's pid: one temp folder per build (connection files, sockets)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(frozen=True)
class Chapter:
    """One executed notebook of the report: its output name, template, extra parameters and page title."""

    slug: str
    template: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    title: str | None = None  # replaces the template's H1 (the segment chapter's H1 is the segment name)
    inputs: tuple[Path, ...] = ()  # files beyond the mart's own that the chapter reads (part of its cache key)

    @property
    def is_segment(self) -> bool:
        """True for a chapter executed from the per-segment template."""
        return "segment_id" in self.parameters

    def describe(self) -> str:
        """The template path and, for a segment chapter, which segment (for messages)."""
        where = _display_path(self.template)
        return f"{where} (segment '{self.parameters['segment_id']}')" if self.is_segment else where


@dataclass(frozen=True)
class ChapterRun:
    """What happened to one chapter in a build: where its notebook is, whether it ran, and how long it took."""

    chapter: Chapter
    notebook: Path
    key: str
    executed: bool
    seconds: float


def plan_chapters(params: Params) -> list[Chapter]:
    """The chapters of a report, in reading order: the segment template expands to one chapter per segment.

    The templates are the notebooks in the params' `chapters` folder (default `chapters/`, relative to the folder
    the command runs in).
    """
    templates_dir = params.chapters_dir
    if not templates_dir.is_dir():
        raise ChapterFailedError(f"{templates_dir}: no chapters folder; set `chapters:` in {params.path} to the "
                                 "folder of chapter notebooks (default: chapters/ in the folder you run from)")
    templates = sorted(templates_dir.glob("*.ipynb"))
    if not any(t.name == SEGMENT_TEMPLATE for t in templates):
        raise ChapterFailedError(f"{templates_dir}: no {SEGMENT_TEMPLATE} template (the per-segment chapter)")
    chapters = []
    for template in templates:
        if template.name == MIGRATION_TEMPLATE:
            chapters += _migration_chapter(params, template)
            continue
        if template.name != SEGMENT_TEMPLATE:
            chapters.append(Chapter(slug=template.stem, template=template))
            continue
        for i, seg in enumerate(params.all_segments, start=1):
            slug = f"{template.stem}_{i:02d}_{segment_slug(seg.id)}"  # index keeps slugs unique and in precedence order
            chapters.append(Chapter(slug=slug, template=template, parameters={"segment_id": seg.id}, title=seg.name))
    return chapters


def _migration_chapter(params: Params, template: Path) -> list[Chapter]:
    """The 'What changed since …' chapter when the mart holds a migration computed for it as it is now."""
    from segmentation.migration import MIGRATION, MIGRATION_JSON, read_migration
    from segmentation.report.migration import title

    migration = read_migration(params.mart_dir)
    if migration is None or not migration.current:
        return []
    return [Chapter(slug=template.stem, template=template, title=title(migration),
                    parameters={"before_mart_dir": migration.info["before"]["mart_dir"]},
                    inputs=(params.mart_dir / MIGRATION, params.mart_dir / MIGRATION_JSON))]


def inputs_digest(params: Params, mart_dir: Path) -> str:
    """Hash of what every chapter depends on: params file, mart files and the package source."""
    digest = hashlib.sha256()
    digest.update(params.sha256.encode())
    for name in MART_FILES:
        digest.update(name.encode())
        digest.update(file_sha256(mart_dir / name).encode())
    digest.update(chapter_code_digest(sorted(params.chapters_dir.glob("*.ipynb"))).encode())
    return digest.hexdigest()


def chapter_code_digest(templates: Iterable[Path]) -> str:
    """Hash of the code chapter kernels run: the package modules the templates import, and everything those import.

    Only that code (not the build machinery: a change to the PDF layout re-executes nothing).
    """
    return fingerprint(sorted(template_imports(templates)))


def template_imports(templates: Iterable[Path]) -> set[str]:
    """The `segmentation` modules the code cells of these notebooks import."""
    modules: set[str] = set()
    for template in templates:
        for cell in nbformat.read(template, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:  # a cell with IPython magics: no imports of ours to find there
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module:
                    modules.add(node.module)
                    modules.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in modules if m.split(".")[0] == "segmentation" and _is_module(m)}


def _is_module(name: str) -> bool:
    """True when `name` is a module or package of this package (not a function imported from one)."""
    folder = IMPORT_ROOT.joinpath(*name.split("."))
    return (folder / "__init__.py").is_file() or folder.with_suffix(".py").is_file()


def chapter_key(chapter: Chapter, inputs: str) -> str:
    """The cache key of one chapter: shared inputs + its template + its parameters (the segment id) + its own files."""
    digest = hashlib.sha256()
    digest.update(inputs.encode())
    digest.update(file_sha256(chapter.template).encode())
    digest.update(json.dumps(chapter.parameters, sort_keys=True).encode())
    for path in chapter.inputs:
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def execute_chapters(
    chapters: list[Chapter],
    *,
    params: Params,
    mart_dir: Path,
    out_dir: Path,
    jobs: int | None = None,
    progress: Callable[[str], None] = print,
) -> list[ChapterRun]:
    """Execute the chapters whose cache key changed (in parallel), reuse the rest; one progress line per chapter."""
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_dead_runtime_dirs()  # what a SIGKILLed build's kernels left in the temp folder
    inputs = inputs_digest(params, mart_dir)
    runs: dict[str, ChapterRun] = {}
    pending = []
    for chapter in chapters:
        key = chapter_key(chapter, inputs)
        notebook = out_dir / f"{chapter.slug}.ipynb"
        if notebook.is_file() and _stored_key(notebook) == key:
            runs[chapter.slug] = ChapterRun(chapter, notebook, key, executed=False, seconds=0.0)
            progress(f"chapter {chapter.slug}: cached")
        else:
            pending.append((chapter, key, notebook))
    if pending:
        base = {"params_path": str(params.path.resolve()), "mart_dir": str(mart_dir.resolve())}
        with closing(_run_all(pending, base, jobs)) as finished:  # closing: an error here stops the workers too
            for chapter, key, notebook, seconds in finished:
                runs[chapter.slug] = ChapterRun(chapter, notebook, key, executed=True, seconds=seconds)
                progress(f"chapter {chapter.slug}: executed in {seconds:.1f} s")
    _remove_stale(out_dir, {c.slug for c in chapters})
    return [runs[c.slug] for c in chapters]


def _run_all(pending: list[tuple[Chapter, str, Path]], base: dict[str, str], jobs: int | None) -> Iterable:
    """Run pending chapters on a process pool; yield each as it finishes; raise on the first failure.

    On any exception (a failing chapter, Ctrl-C, SIGTERM, the caller closing the generator) the workers and
    their kernels are stopped at once and everything they left is removed; only a failed chapter's kernel log
    stays (its error message may point to it).
    """
    workers = max(1, min(jobs or default_jobs(), len(pending)))
    runtime = tempfile.mkdtemp(prefix=f"{RUNTIME_PREFIX}{os.getpid()}-")
    context = multiprocessing.get_context("spawn")  # no forked copies of the caller's threads or open files
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                                  initargs=(str(IMPORT_ROOT), os.getpid(), runtime))
    futures = {}
    failed_log = None
    done = False
    try:
        # a stop signal is raised between these calls, never inside the pool's locks (interrupt.deferred)
        with interrupt.deferred(), _ctrl_c_held_from_new_workers():  # submit() starts the workers
            for chapter, key, notebook in pending:
                partial = notebook.with_name(f".{notebook.stem}.running.ipynb")
                log = notebook.with_name(f".{notebook.stem}.kernel.log")
                args = (str(chapter.template), str(partial), {**base, **chapter.parameters}, os.getcwd(),
                        str(log))
                futures[pool.submit(execute_notebook, *args)] = (chapter, key, notebook, partial)
        running = set(futures)
        while running:
            with interrupt.deferred():
                finished, running = cf.wait(running, timeout=POLL_S, return_when=cf.FIRST_COMPLETED)
            for future in sorted(finished, key=list(futures).index):
                chapter, key, notebook, partial = futures[future]
                seconds, failure = future.result()
                if failure is not None:
                    failed_log = _kernel_log(notebook)
                    raise _chapter_error(chapter, partial, notebook, failure)
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
                if _kernel_log(notebook) != failed_log:
                    _kernel_log(notebook).unlink(missing_ok=True)


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


def _kernel_log(notebook: Path) -> Path:
    """Where the kernel of a chapter writes its console output."""
    return notebook.with_name(f".{notebook.stem}.kernel.log")


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool's worker processes and every process they started (kernels) now: SIGTERM, then SIGKILL."""
    procs: list[psutil.Process] = []
    for pid in list(getattr(pool, "_processes", None) or {}):  # the pool's own record of its workers
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
    _gone, alive = psutil.wait_procs(procs, timeout=STOP_TIMEOUT_S)
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


def _init_worker(import_root: str, parent_pid: int, runtime_dir: str) -> None:
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
            _literal_path(template), _literal_path(output), parameters=parameters, kernel_name="python3", progress_bar=False, log_output=False,
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


def _chapter_error(chapter: Chapter, partial: Path, notebook: Path, failure: dict[str, Any]) -> ChapterFailedError:
    """One line naming the template, the failing cell, the error and where the failed notebook was kept."""
    kept = notebook.with_name(f"{notebook.stem}.failed.ipynb")
    cell = "kernel start"
    where = f"kernel log: {_display_path(notebook.with_name(f'.{notebook.stem}.kernel.log'))}"
    if partial.is_file():
        os.replace(partial, kept)
        cell = _template_cell(chapter.template, kept)
        where = f"executed notebook: {_display_path(kept)}"
    source = " ".join(str(failure.get("source", "")).split())
    code = f" `{source[:80]}`" if source else ""
    evalue = " ".join(str(failure["evalue"]).split())[:300]
    return ChapterFailedError(f"{chapter.describe()}: {cell}{code} raised {failure['ename']}: {evalue} ({where})")


def _template_cell(template: Path, executed: Path) -> str:
    """'cell 7' numbered as in the template: papermill adds cells but keeps the template's cell ids."""
    try:
        failed = next(cell for cell in nbformat.read(executed, as_version=4).cells
                      if any(o.get("output_type") == "error" for o in cell.get("outputs", [])))
        ids = [cell.get("id") for cell in nbformat.read(template, as_version=4).cells]
        return f"cell {ids.index(failed.get('id')) + 1}"
    except (StopIteration, ValueError, OSError):
        return "a cell"


def finish_notebook(source: Path, target: Path, chapter: Chapter, key: str) -> None:
    """Make an executed notebook a page: unique cell ids, the chapter's own H1, no run metadata; store its key."""
    nb = nbformat.read(source, as_version=4)
    prefix = chapter.slug.replace(".", "-")[:52]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{prefix}-{i:02d}"  # papermill keeps template ids: duplicates across pages of one site
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        tags = cell.metadata.get("tags", [])
        if ("injected-parameters" in tags or "parameters" in tags) and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
        alt = _figure_alt(cell)
        if alt:
            cell.metadata["mystnb"] = {"image": {"alt": alt}}  # MyST-NB's per-cell image options: alt text
    if chapter.title:
        _retitle(nb, chapter.title)
    nb.metadata.pop("papermill", None)
    nb.metadata["segmentation"] = {"chapter": chapter.slug, "cache_key": key, "parameters": chapter.parameters}
    with atomic.replacing(target) as staging:
        nbformat.write(nb, staging)
    source.unlink(missing_ok=True)


def _figure_alt(cell: nbformat.NotebookNode) -> str | None:
    """The alt text of the figure a cell shows (its text/plain rendering), if it shows one."""
    for output in cell.get("outputs", []):
        if output.get("metadata", {}).get("segmentation", {}).get("figure"):
            text = output.get("data", {}).get("text/plain", "")
            return "".join(text) if isinstance(text, list) else text
    return None


def _retitle(nb: nbformat.NotebookNode, title: str) -> None:
    """Replace the first H1 of the notebook with `title`, as text (a segment name is never MyST)."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("# "):
                lines[i] = f"# {md_text(title)}"
                cell.source = "\n".join(lines)
                return


def _stored_key(notebook: Path) -> str | None:
    """The cache key an executed notebook was made with (None if unreadable)."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]
        return meta.get("segmentation", {}).get("cache_key")
    except (OSError, ValueError, KeyError):
        return None


def _remove_stale(out_dir: Path, slugs: set[str]) -> None:
    """Delete executed notebooks of chapters no longer in the report (e.g. a segment removed from the params).

    Hidden leftovers of a killed run go too: `.x.running.ipynb` (matched by the glob) and `finish_notebook`'s
    temporaries.
    """
    for path in [*out_dir.glob("*.ipynb"), *atomic.temporaries(out_dir, "*.ipynb")]:
        if path.stem not in slugs and not path.name.endswith(".failed.ipynb"):
            path.unlink()
    for slug in slugs:
        (out_dir / f"{slug}.failed.ipynb").unlink(missing_ok=True)
        (out_dir / f".{slug}.kernel.log").unlink(missing_ok=True)


def figure_outputs(notebook: Path) -> Iterable[tuple[str, bytes, str]]:
    """The figures in an executed chapter: (name, PNG bytes, SVG text) of every output a figure function made."""
    import base64

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("segmentation", {}).get("figure")
            if name and "image/png" in output.get("data", {}):
                svg = output["data"].get("image/svg+xml", "")
                svg = "".join(svg) if isinstance(svg, list) else svg
                yield name, base64.b64decode(output["data"]["image/png"]), svg


def publish_figures(notebooks: Iterable[Path], figures_dir: Path) -> list[Path]:
    """Write every figure of the report to `figures_dir` as PNG and SVG; remove figures no chapter makes anymore.

    One unit (segmentation.core.atomic): a stopped or killed run leaves the folder wholly old or wholly new. Only
    changed figures are written, so unchanged ones keep their mtimes; nothing changed, nothing is touched.
    """
    figures_dir.mkdir(parents=True, exist_ok=True)
    atomic.recover(figures_dir)  # finish a publish a killed run committed before comparing with the folder
    wanted: dict[str, bytes] = {}
    for notebook in notebooks:
        for name, png, svg in figure_outputs(notebook):
            wanted[f"{name}.png"] = png
            wanted[f"{name}.svg"] = svg.encode("utf-8")
    changed = {name: data for name, data in wanted.items() if not _holds(figures_dir / name, data)}
    stale = sorted(p.name for p in [*figures_dir.glob("*.png"), *figures_dir.glob("*.svg")] if p.name not in wanted)
    if changed or stale:
        with atomic.publishing(figures_dir, remove=stale) as staging:
            for name, data in changed.items():
                (staging / name).write_bytes(data)
    return sorted(figures_dir / name for name in wanted)


def _holds(path: Path, data: bytes) -> bool:
    """True when the file exists and holds exactly these bytes."""
    return path.is_file() and path.read_bytes() == data


def _display_path(path: Path) -> str:
    """A path relative to the current folder when it is inside it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
