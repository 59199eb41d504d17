"""Build the stakeholder report of one params file: chapters → figures → HTML site → PDF.

Outputs are named after the params file (`params.name`):
    build/report/<name>/chapters/*.ipynb   executed chapters (also the execution cache)
    build/report/<name>/site/index.html    the site
    build/report/<name>/<name>.pdf         the PDF
    figures/<name>/*.png, *.svg            every figure
The site, the PDF and the stamp saying what they were built from are published together, as one unit
(segmentation.core.atomic): built into a staging folder, then installed by renames that a killed run's successor
finishes. So a failing, interrupted (Ctrl-C), terminated (SIGTERM) or killed build leaves the previously
published site and PDF as they were, or, once its commit rename happened, the new ones, never one of each.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from segmentation.config.params import Params
from segmentation.core import atomic
from segmentation.core.fingerprint import fingerprint
from segmentation.mart.store import read_mart
from segmentation.migration import command_hint, read_migration
from segmentation.report.chapters import (
    ChapterRun,
    execute_chapters,
    plan_chapters,
    publish_figures,
)
from segmentation.report.display import Table
from segmentation.report.errors import SiteBuildError
from segmentation.report.escape import Md, md_code
from segmentation.report.pdf import PdfMeta, build_pdf
from segmentation.report.site import (
    REPORT_DIR,
    SiteText,
    external_assets,
    run_sphinx,
    write_sources,
)
from segmentation.words import formatting as fmt


@dataclass(frozen=True)
class ReportPaths:
    """Where the built report is."""

    site_index: Path
    pdf: Path
    figures_dir: Path


@dataclass(frozen=True)
class ReportLayout:
    """Every folder and file of one report build, derived from the params name and the output root."""

    root: Path
    name: str

    @property
    def report_dir(self) -> Path:
        """build/report/<name>: everything of this report but the figures."""
        return self.root / "build" / "report" / self.name

    @property
    def chapters_dir(self) -> Path:
        """The executed chapters (also the execution cache)."""
        return self.report_dir / "chapters"

    @property
    def site_dir(self) -> Path:
        """The published HTML site."""
        return self.report_dir / "site"

    @property
    def pdf(self) -> Path:
        """The published PDF."""
        return self.report_dir / f"{self.name}.pdf"

    @property
    def work_dir(self) -> Path:
        """Sphinx sources, doctrees and the single-page HTML behind the PDF (kept between builds for speed)."""
        return self.report_dir / ".work"

    @property
    def figures_dir(self) -> Path:
        """figures/<name>: every figure as PNG and SVG."""
        return self.root / "figures" / self.name

    @property
    def stamp(self) -> Path:
        """What the published site and PDF were built from (lets an unchanged rerun skip Sphinx and WeasyPrint).

        Published with them, in the same unit and last, so it never vouches for a site or PDF it did not come with.
        """
        return self.report_dir / STAMP_NAME


STAMP_NAME = ".site-inputs.json"


def build_report(
    params: Params,
    *,
    jobs: int | None = None,
    progress: Callable[[str], None] = print,
    root: Path | None = None,
) -> ReportPaths:
    """Build (or bring up to date) the report of `params` from its mart; `root` is where build/ and figures/ go."""
    layout = ReportLayout(root=(root or Path.cwd()).resolve(), name=params.name)
    mart = read_mart(params.mart_dir)  # fails early, naming the command that builds the mart
    started = time.perf_counter()
    atomic.recover(layout.report_dir)  # finish a publish a killed run committed; drop stagings of dead runs

    migration = read_migration(params.mart_dir)
    if migration is not None and not migration.current:
        progress(f"migration: {migration.path} was computed for an earlier build of this mart, chapter left out; "
                 f"rerun `{command_hint(params.mart_dir)}`")
    runs = execute_chapters(plan_chapters(params), params=params, mart_dir=params.mart_dir,
                            out_dir=layout.chapters_dir, jobs=jobs, progress=progress)

    stamp = site_stamp(params, runs)
    if _stamp_matches(layout, stamp):
        progress("site and pdf: unchanged")
    else:
        text = SiteText(title=params.title, lead=_lead(params, mart.insights, mart.manifest),
                        segments=_segments_at_a_glance(mart.summary, runs))
        src = layout.work_dir / "src"
        write_sources(src, runs, text, REPORT_DIR)
        overrides = {"project": params.title, "html_title": params.title}
        # one unit: site, PDF, then the stamp; nothing in build/report/<name>/ changes until all three are built
        with atomic.publishing(layout.report_dir, last=[STAMP_NAME]) as staging:
            t0 = time.perf_counter()
            _build_site(layout, src, overrides, staging / layout.site_dir.name)
            progress(f"site: built in {time.perf_counter() - t0:.1f} s")
            t0 = time.perf_counter()
            segment_docs = frozenset(f"chapters/{run.notebook.stem}" for run in runs if run.chapter.is_segment)
            _build_pdf(layout, src, overrides, params, mart.insights, mart.manifest, segment_docs,
                       staging / layout.pdf.name)
            progress(f"pdf: built in {time.perf_counter() - t0:.1f} s")
            published = _published_digest(staging / layout.site_dir.name, staging / layout.pdf.name)
            (staging / STAMP_NAME).write_text(json.dumps({"stamp": stamp, "published": published}), encoding="utf-8")
        (layout.work_dir / "site-inputs.json").unlink(missing_ok=True)  # where builds before this one kept it
    publish_figures([run.notebook for run in runs], layout.figures_dir)  # its own unit: figures/<name>/
    progress(f"report {params.name}: {time.perf_counter() - started:.1f} s → {layout.site_dir / 'index.html'}")
    return ReportPaths(site_index=layout.site_dir / "index.html", pdf=layout.pdf, figures_dir=layout.figures_dir)


def site_stamp(params: Params, runs: list[ChapterRun]) -> str:
    """Hash of everything the site and PDF are made from: chapter keys, report templates, code, params."""
    digest = hashlib.sha256()
    for run in runs:
        digest.update(f"{run.notebook.name}:{run.key}\n".encode())
    for path in sorted(p for p in REPORT_DIR.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(REPORT_DIR)).encode())
        digest.update(path.read_bytes())
    digest.update(fingerprint(["segmentation.report.build"]).encode())
    digest.update(params.sha256.encode())
    return digest.hexdigest()


def _stamp_matches(layout: ReportLayout, stamp: str) -> bool:
    """True when the published site and PDF are exactly what a build from these inputs published."""
    if atomic.interrupted(layout.report_dir):
        return False  # a killed publish not rolled forward yet: the target is mid-way
    if not ((layout.site_dir / "index.html").is_file() and layout.pdf.is_file() and layout.stamp.is_file()):
        return False
    try:
        recorded = json.loads(layout.stamp.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return (recorded.get("stamp") == stamp
            and recorded.get("published") == _published_digest(layout.site_dir, layout.pdf))


def _published_digest(site: Path, pdf: Path) -> str:
    """Hash of the site's files (names and bytes) and the PDF: the stamp vouches for these bytes only."""
    digest = hashlib.sha256()
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(site).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    digest.update(b"\0pdf\0")
    digest.update(pdf.read_bytes())
    return digest.hexdigest()


def _build_site(layout: ReportLayout, src: Path, overrides: dict[str, str], target: Path) -> None:
    """Build the HTML site into `target` (a staging folder), checked offline and free of Sphinx's build info."""
    html = layout.work_dir / "html"  # inside .work: MyST-NB writes its output files beside the Sphinx outdir
    shutil.rmtree(html, ignore_errors=True)
    try:
        run_sphinx(src, html, layout.work_dir / "doctrees", "html", overrides)
        remote = external_assets(html)
        if remote:
            raise SiteBuildError(f"{html}: {len(remote)} page elements load from the network; first: {remote[0]}")
        (html / ".buildinfo").unlink(missing_ok=True)
        html.rename(target)  # .work and the staging folder are both in build/report/<name>/: one filesystem
    finally:
        shutil.rmtree(html, ignore_errors=True)


def _build_pdf(layout: ReportLayout, src: Path, overrides: dict[str, str], params: Params,
               insights: dict, manifest: dict, segment_docs: frozenset[str], target: Path) -> None:
    """Render the single-page HTML of the same chapters to the PDF at `target` (a staging folder's entry)."""
    single = layout.work_dir / "singlehtml"
    run_sphinx(src, single, layout.work_dir / "doctrees", "singlehtml", overrides)
    meta = PdfMeta(
        title=params.title,
        params_name=params.name,
        params_file=params.path.name,
        reference_date=str(manifest.get("reference_date") or insights.get("reference_date")),
        customers=fmt.count(insights["customers"]),
        revenue=fmt.Money.of(manifest["currency"])(insights["revenue"]),
    )
    build_pdf(single / "index.html", target, meta, REPORT_DIR / "print.css", segment_docs)


def _segments_at_a_glance(summary: pd.DataFrame, runs: list[ChapterRun]) -> str:
    """The index page's segment table (raw HTML for MyST): colour, name linking to its page, size, revenue share."""
    pages = {run.chapter.parameters["segment_id"]: f"chapters/{run.notebook.stem}.html"
             for run in runs if run.chapter.is_segment}
    frame = pd.DataFrame({
        "Segment": summary["segment_name"],
        "Customers": summary["customers"].astype(int),
        "% of customers": summary["customer_share"],
        "% of revenue": summary["revenue_share"],
        "Description": summary["description"],
    })
    table = Table(frame, caption="Segments in precedence order", row_colors=list(summary["color"]),
                  row_links=[pages.get(sid) for sid in summary["segment_id"]],
                  formats={"Customers": fmt.count, "% of customers": fmt.share, "% of revenue": fmt.share})
    return table._repr_html_()


def _lead(params: Params, insights: dict, manifest: dict) -> Md:
    """The index page's first paragraph (MyST): what this report covers."""
    return Md(
        "Customer segmentation of **{customers} customers** ({revenue} lifetime revenue) as of **{date}**, with the "
        "segment rules in {file}. Start with the executive summary; each segment has its own profile; the findings "
        "close with recommendations and the run's parameters."
    ).format(customers=fmt.count(insights["customers"]),
             revenue=fmt.Money.of(manifest["currency"])(insights["revenue"]),
             date=manifest.get("reference_date"), file=md_code(params.path.name))
