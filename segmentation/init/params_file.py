"""Writing the params file `init` guessed: commented YAML whose every value is dumped by ``yaml.safe_dump``.

Each top-level key is dumped on its own and preceded by comments written here, so the file's column names and
values only ever appear as YAML values (quoted as needed), never in a comment or spliced into YAML by hand. The
scores, quality checks, segments and the rest come from a template params file (``params/default.yaml``), so the
written file runs as is. `mart_dir` is left out: it follows from the params file's name.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from segmentation.core.errors import ParamsError, SegmentationError
from segmentation.init.guess import CUSTOMERS, Guess

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# Sections taken from the template, in this order, after the ones init writes.
COPIED = ("scores", "quality", "plausible", "engine", "premium", "privacy", "segments", "fallback")
NOT_COPIED = {"title", "input", "transactions", "mart_dir", "reference_date", "currency", "chapters"}

HEAD = """\
# Written by `python -m segmentation init` from a sample of the file named below. Everything under input or
# transactions is a guess: compare it with what init printed and with the file, then run
#   make report PARAMS={params}
"""
COMMENTS = {
    "title": "# The report's title.",
    "currency": "# ISO 4217 code of the amounts (GBP, EUR, USD, …): sets the symbol and number style everywhere.",
    "input_customers": """\
# The customer file (one row per customer, the 20 fields of docs/mart.md).
#   columns: field: the file's column name, for names that differ from the field (others are looked up by name).
#   format: separator ("," ";" "\\t" "|" or whitespace), header, date_format (strptime), decimal, thousands.""",
    "input_orders": "# No customer file: what is known of a customer comes from its orders (see transactions).",
    "transactions": """\
# The orders table.
#   columns: field: the file's column name. customer_id, order_date and order_value are required; order_value is
#     one column, or quantity × unit_price of two; order_id is optional (rows with one id are one order; without
#     it, a customer's purchase day is an order). Other fields (country, favorite_category, …) describe the
#     customer: per customer, the most frequent value among its orders.
#   format: separator ("," ";" "\\t" "|" or whitespace: runs of spaces), header (false: columns are named column1,
#     column2, … in file order), date_format (strptime; a time part is cut to the day), decimal, thousands.
#   returns: policy net subtracts returns (rows with a negative quantity or value, and rows whose order id matches
#     order_id_pattern) from the same customer's purchases; drop leaves them out and counts them.""",
    "reference_date": "# The day recency is measured from; null = the day after the latest purchase.",
    "template": "# Scores, data-quality policies, bounds, engine and segments: as in {template} (edit freely).",
}


def params_name(file: Path, name: str | None) -> str:
    """The params file's name: `name` as given (letters, digits, _ and -), or the data file's stem made into one."""
    if name is not None:
        if not NAME.fullmatch(name):
            raise SegmentationError(
                f"init: --name {name!r} must be letters, digits, '_' or '-' (up to 64, starting with a letter or "
                f"digit), e.g. --name {_sanitised(name)}"
            )
        return name
    stem = file.name
    for suffix in (".gz", ".csv", ".tsv", ".txt", ".dat"):
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
    return _sanitised(stem)


def _sanitised(text: str) -> str:
    """Letters, digits, '_' and '-' only, starting with a letter or digit; 'mine' when nothing is left."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_-")[:64]
    return cleaned or "mine"


def params_text(guess: Guess, data_path: str, name: str, template: Path, params_path: Path) -> str:
    """The commented YAML of a params file for `guess`, reading `data_path`, with the template's other sections."""
    rest = _template(template)
    parts = [HEAD.format(params=_plain(params_path.as_posix(), "params/NAME.yaml"))]
    parts.append(_block(COMMENTS["title"], {"title": f"Customer segmentation — {name}"}))
    parts.append(_block(COMMENTS["currency"], {"currency": guess.currency}))
    if guess.kind == CUSTOMERS:
        parts.append(_block(COMMENTS["input_customers"], {"input": _source(data_path, guess, plain_ok=True)}))
    else:
        parts.append(_block(COMMENTS["input_orders"], {"input": None}))
        orders = _source(data_path, guess, plain_ok=False)
        orders["returns"] = guess.returns
        parts.append(_block(COMMENTS["transactions"], {"transactions": orders}))
    parts.append(_block(COMMENTS["reference_date"], {"reference_date": None}))
    copied = {key: rest[key] for key in COPIED if key in rest}
    copied.update({key: value for key, value in rest.items() if key not in copied and key not in NOT_COPIED})
    parts.append(_block(COMMENTS["template"].format(template=_plain(template.as_posix())), copied))
    return "\n".join(parts)


def _source(data_path: str, guess: Guess, *, plain_ok: bool) -> Any:
    """The `input` or `transactions` value: the plain path when nothing needs saying (customer files only)."""
    fmt = dict(guess.format)
    default_format = fmt == {"separator": ",", "header": True, "date_format": "%Y-%m-%d", "decimal": ".",
                             "thousands": None}
    if plain_ok and not guess.columns and default_format:
        return data_path
    section: dict[str, Any] = {"path": data_path}
    if guess.columns:
        section["columns"] = guess.columns
    section["format"] = fmt
    return section


class _Dumper(yaml.SafeDumper):
    """yaml.safe_dump's dumper, writing a text with a line break or control character on one line, in double
    quotes with escapes, rather than folded over several lines."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """A text: double-quoted when it holds a character that is not printable, else in the plainest safe style."""
    style = '"' if any(not ch.isprintable() for ch in value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_text)


def _block(comment: str, values: dict[str, Any]) -> str:
    """Generated comment lines, then the values as YAML."""
    dumped = yaml.dump(values, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=float("inf"),
                       default_flow_style=False)
    return f"{comment}\n{dumped}"


def _plain(text: str, otherwise: str = "the template") -> str:
    """A path for a comment: kept only when it is plain (letters, digits, / . _ -), else `otherwise`."""
    return text if re.fullmatch(r"[A-Za-z0-9/._-]+", text) else otherwise


def _template(template: Path) -> dict[str, Any]:
    """The template params file's sections."""
    try:
        raw = yaml.safe_load(template.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParamsError(f"{template}: cannot read the template params file ({exc.strerror}); init copies its "
                          "segments, run it from the project folder") from None
    except yaml.YAMLError:
        raise ParamsError(f"{template}: not valid YAML; init copies its segments") from None
    if not isinstance(raw, dict) or "segments" not in raw:
        raise ParamsError(f"{template}: expected a params file with segments; init copies them")
    return raw


def write_new(path: Path, text: str) -> None:
    """Write `text` to `path` only if no file is there, all at once: a temporary beside it, linked into place
    (a link never replaces an existing file, so two runs cannot overwrite each other)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise_exists(path)
    finally:
        os.unlink(temporary)


def raise_exists(path: Path) -> None:
    """Refuse to overwrite a params file, in one line with the fix."""
    raise SegmentationError(f"{path} already exists; init never overwrites a params file: choose another name "
                            "with --name NAME")
