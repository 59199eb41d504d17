"""`init`: sample a file, guess its mapping and formats, write params/NAME.yaml, and say what was guessed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segmentation.init.guess import CUSTOMERS, Finding, Guess, guess, quoted
from segmentation.init.params_file import params_name, params_text, raise_exists, write_new
from segmentation.init.sniff import WHITESPACE, read_sample, separator_words

PARAMS_DIR = Path("params")
TEMPLATE = "default.yaml"
LABEL_WIDTH = 19


@dataclass(frozen=True)
class InitResult:
    """The params file written, the guess behind it, and the lines that describe it."""

    path: Path
    guess: Guess
    lines: list[str]


def init_params(file: Path, name: str | None = None, params_dir: Path = PARAMS_DIR,
                template: Path | None = None) -> InitResult:
    """Guess a params file for `file` and write it to `params_dir`/NAME.yaml (never over an existing file).

    The segments and other settings come from `template` (default: `params_dir`/default.yaml). The file's path
    is written as given, so relative paths work from the folder the command runs in.
    """
    file = Path(file)
    target = params_dir / f"{params_name(file, name)}.yaml"
    if target.exists():
        raise_exists(target)  # before reading anything: the answer is the same whatever the file holds
    sample = read_sample(file)
    found = guess(sample)
    text = params_text(found, file.as_posix(), target.stem, template or params_dir / TEMPLATE, target)
    write_new(target, text)
    return InitResult(target, found, describe(sample.path, sample.separator, sample.header, len(sample.rows),
                                              len(sample.columns), found, target))


def describe(path: Path, separator: str, header: bool, rows: int, columns: int, found: Guess,
             target: Path) -> list[str]:
    """What init read and guessed, one line per field, and what to do next."""
    layout = "runs of spaces between columns" if separator == WHITESPACE else separator_words(separator)
    lines = [
        f"Read {rows:,} rows of {quoted(path.as_posix(), 200)} as a sample: {layout}, "
        f"{'with a header line' if header else 'no header line (columns are column1, column2, …)'}, "
        f"{columns} columns.",
    ]
    lines += [_finding_line(finding) for finding in found.findings]
    if found.unused:
        lines.append(_finding_line(Finding("not used", tuple(found.unused))))
    checks = [f.label for f in found.findings if f.check]
    if checks:
        lines.append(f"Check: {', '.join(dict.fromkeys(checks))} (marked ! above).")
    where = "input" if found.kind == CUSTOMERS else "transactions"
    lines.append(f"Wrote {target.as_posix()}. Read its {where} section against the file, then run: "
                 f"make report PARAMS={target.as_posix()}")
    return lines


def _finding_line(finding: Finding) -> str:
    """One field: label, where from, examples, note; '!' marks what to check."""
    mark = "!" if finding.check else " "
    source = finding.joiner.join(quoted(column) for column in finding.columns) or finding.words
    line = f"{mark} {finding.label:<{LABEL_WIDTH}} {source}"
    if finding.examples:
        joiner = finding.joiner if len(finding.columns) > 1 else ", "
        line += f"   e.g. {joiner.join(quoted(example) for example in finding.examples)}"
    if finding.note:
        line += f"   ({finding.note})"
    return line
