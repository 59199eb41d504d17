"""Command line: `python -m segmentation <command>`; user errors become one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from segmentation.core import interrupt
from segmentation.core.errors import SegmentationError

if TYPE_CHECKING:
    from segmentation.config.params import Params

DEFAULT_PARAMS = Path("params/default.yaml")
DEFAULT_RAW = Path("data/raw/synthetic_customers.csv")
EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options."""
    parser = argparse.ArgumentParser(
        prog="python -m segmentation",
        description="Customer segmentation: data-quality review, RFM scores, rule-based segments, report, dashboard.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="write a synthetic customer file (and its metadata JSON)")
    gen.add_argument("--rows", type=_positive_int, default=100_000, help="number of customers (default 100000)")
    gen.add_argument("--seed", type=int, default=42, help="random seed; same seed, same bytes (default 42)")
    gen.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="latest possible purchase date")
    gen.add_argument("--out", type=Path, default=DEFAULT_RAW, help=f"CSV path (default {DEFAULT_RAW})")
    gen.add_argument("--transactions", type=Path, default=None, metavar="PATH",
                     help="also write the orders log: PATH.csv, PATH.parquet, or a folder of Parquet "
                          "part files (no suffix); customer ids are then unique")
    gen.add_argument("--online-retail", type=Path, default=None, metavar="PATH",
                     help="instead, write an orders export in the layout of UCI Online Retail II (invoice lines, "
                          "cancellations, missing ids) for --rows customers to PATH")

    init = sub.add_parser("init", help="read a sample of your own file, guess its columns and formats, and write "
                                       "params/NAME.yaml to start from")
    init.add_argument("file", type=Path, help="the orders table or customer file (CSV or text, optionally .gz)")
    init.add_argument("--name", default=None,
                      help="name of the params file (default: the file's name without suffix); never overwritten")

    data = sub.add_parser("data", help="generate the project's synthetic input the params read, if it is missing "
                                       "(nothing for any other data)")
    data.add_argument("--params", type=Path, default=DEFAULT_PARAMS, help=f"params YAML (default {DEFAULT_PARAMS})")

    val = sub.add_parser("validate", help="run only the data-quality review; writes its own data_quality.json, "
                                          "never the mart's")
    _params_options(val)
    _engine_option(val)
    val.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="folder for the review's data_quality.json (default build/validate/<params name>/); "
                          "the mart is left as it is")

    rules = sub.add_parser("rules", help="lint a params file's segment rules and print which rule wins each cell")
    rules.add_argument("params", nargs="?", type=Path, default=DEFAULT_PARAMS, help="params YAML file")

    run = sub.add_parser("run", help="build the mart (customer_segments.parquet, summary, insights, manifest)")
    _params_options(run)
    _engine_option(run)
    _force_option(run)

    report = sub.add_parser("report", help="build the mart, then the report site and PDF")
    _params_options(report)
    _engine_option(report)
    _force_option(report)
    report.add_argument("--jobs", type=_positive_int, default=None, help="chapters executed in parallel")

    dash = sub.add_parser("dashboard", help="serve the analyst dashboard over the mart")
    _params_options(dash)
    dash.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    dash.add_argument("--port", type=int, default=8050, help="port (default 8050)")

    mig = sub.add_parser("migrate", help="segment migration between two marts, or since a day (transaction input)")
    mig.add_argument("--before", type=Path, metavar="DIR", help="the earlier mart folder")
    mig.add_argument("--after", type=Path, metavar="DIR", help="the later mart folder (gets the output)")
    mig.add_argument("--since", type=dt.date.fromisoformat, metavar="DATE",
                     help="transaction input: compare customers as of DATE (orders up to that day) with the mart")
    mig.add_argument("--params", type=Path, default=DEFAULT_PARAMS, help=f"params YAML (default {DEFAULT_PARAMS})")
    _force_option(mig, "with --since: ")
    mig.add_argument("--match", choices=("id", "source"), default="source",
                     help="match customers by source id + first purchase date (default) or by customer_id")
    for command in sub.choices.values():  # `--debug` also after the command; the default keeps one given before it
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show the full traceback on errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        with interrupt.stop_signals_raise():  # SIGTERM, like Ctrl-C, raises: cleanup code runs, workers stop
            return COMMANDS[args.command](args)
    except SegmentationError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:  # Ctrl-C (130) or SIGTERM (interrupt.Terminated, 143)
        print(interrupt.describe(exc), file=sys.stderr)
        return interrupt.exit_code(exc)


def _generate(args: argparse.Namespace) -> int:
    from segmentation.synthetic.generate import write_customers

    start = time.perf_counter()
    if args.online_retail is not None:
        return _generate_online_retail(args, start)
    path = write_customers(
        args.out, rows=args.rows, seed=args.seed, as_of=args.as_of, progress=_say, transactions=args.transactions
    )
    orders = f" and their orders to {args.transactions}" if args.transactions else ""
    _say(f"wrote {args.rows:,} customers to {path}{orders} in {time.perf_counter() - start:.1f} s")
    return 0


def _generate_online_retail(args: argparse.Namespace, start: float) -> int:
    from segmentation.synthetic.online_retail import write_online_retail

    if args.transactions is not None:
        raise SegmentationError("generate: give either --online-retail PATH or --transactions PATH, not both")
    path = write_online_retail(args.online_retail, customers=args.rows, seed=args.seed)
    _say(f"wrote an Online Retail II export of {args.rows:,} customers to {path} in "
         f"{time.perf_counter() - start:.1f} s")
    return 0


def _init(args: argparse.Namespace) -> int:
    from segmentation.init.command import init_params

    for line in init_params(args.file, args.name).lines:
        _say(line)
    return 0


def _data(args: argparse.Namespace) -> int:
    from segmentation.config.params import load_params
    from segmentation.synthetic.inputs import missing_project_inputs

    missing = missing_project_inputs(load_params(args.params))
    if missing is None:  # the user's own data, or the generated files are there
        return 0
    from segmentation.synthetic.generate import write_customers

    start = time.perf_counter()
    write_customers(missing.customers, progress=_say, transactions=missing.orders)
    orders = f" and their orders to {missing.orders}" if missing.orders else ""
    _say(f"wrote the synthetic customers to {missing.customers}{orders} in {time.perf_counter() - start:.1f} s")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from segmentation.mart.pipeline import validate_dir, validate_only
    from segmentation.mart.store import QUALITY

    params = _load_params(args)
    out_dir = args.out or validate_dir(params)
    validate_only(params, out_dir=out_dir, progress=_say)
    _say(f"review written to {out_dir / QUALITY}")
    return 0


def _rules(args: argparse.Namespace) -> int:
    from segmentation.config.params import load_params
    from segmentation.config.rules import describe

    print(describe(load_params(args.params)))
    return 0


def _run(args: argparse.Namespace) -> int:
    from segmentation.mart.pipeline import run

    params = _load_params(args)
    source = params.transactions.path if params.transactions else params.input_path
    _say(f"building mart from {source} with {params.path}")
    result = run(params, force=getattr(args, "force", False), progress=_say)
    if not result.skipped:
        _say(f"mart written to {result.mart_dir} in {sum(result.timings.values()):.1f} s")
    return 0


def _report(args: argparse.Namespace) -> int:
    from segmentation.report.build import build_report

    params = _load_params(args)
    if params.transactions is not None and params.transactions.since is not None:
        from segmentation.migration import migrate_as_of, summary_line

        # builds (or finds up to date) the mart and the one as of that day, then compares them
        _say(f"building mart from {params.transactions.path} and segment migration since {params.transactions.since}")
        _say(summary_line(migrate_as_of(params, params.transactions.since, progress=_say, force=args.force)))
    else:
        _run(args)
    paths = build_report(params, jobs=args.jobs, progress=_say)
    _say(f"site: {paths.site_index}")
    _say(f"pdf:  {paths.pdf}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from segmentation.dashboard.app import serve

    params = _load_params(args)
    serve(params.mart_dir, host=args.host, port=args.port, params=params)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from segmentation.config.params import load_params
    from segmentation.migration import MIGRATION, MIGRATION_JSON, migrate, migrate_as_of, summary_line

    if args.since is not None:
        if args.before or args.after:
            raise SegmentationError("migrate: give either --since DATE or --before DIR --after DIR, not both")
        params = _load_params(args)
        flows = migrate_as_of(params, args.since, progress=_say, force=args.force)
        after = params.mart_dir
    elif args.before and args.after:
        flows = migrate(args.before, args.after, params=load_params(args.params), match=args.match)
        after = args.after
    else:
        raise SegmentationError("migrate: give --before DIR --after DIR (two marts) or --since DATE (transactions)")
    _say(summary_line(flows))
    _say(f"wrote {after / MIGRATION} and {MIGRATION_JSON}")
    return 0


COMMANDS = {
    "generate": _generate, "init": _init, "data": _data, "validate": _validate, "rules": _rules, "run": _run,
    "report": _report, "dashboard": _dashboard, "migrate": _migrate,
}


def _params_options(parser: argparse.ArgumentParser) -> None:
    """--params and --input, shared by the commands that read data."""
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS, help=f"params YAML (default {DEFAULT_PARAMS})")
    parser.add_argument("--input", type=Path, default=None, help="customer file (CSV or Parquet); overrides the params")


def _force_option(parser: argparse.ArgumentParser, when: str = "") -> None:
    """--force, for the commands that build the mart."""
    parser.add_argument("--force", action="store_true",
                        help=f"{when}rebuild the mart even when it is up to date, and take over its folder when "
                             f"another params file built the mart there")


def _engine_option(parser: argparse.ArgumentParser) -> None:
    """--engine, for the commands that query the data."""
    parser.add_argument("--engine", choices=("duckdb", "spark"), default=None,
                        help="query engine; overrides the params' engine.name (default: as in the params, duckdb)")


def _load_params(args: argparse.Namespace) -> Params:
    """The params file, with --input and --engine applied."""
    from dataclasses import replace

    from segmentation.config.params import load_params

    params = load_params(args.params)
    if getattr(args, "engine", None):
        params = replace(params, engine=replace(params.engine, name=args.engine))
    return replace(params, input_path=args.input) if getattr(args, "input", None) else params


def _positive_int(text: str) -> int:
    """An argparse type: a whole number ≥ 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _say(message: str) -> None:
    """Progress to stdout, so stderr holds nothing but the error line when something goes wrong."""
    print(message, flush=True)
