"""A hand-built params file with overlapping segment rules (3 bins), and the segment each score cell gets.

Rules, in file order (ranges are inclusive):
  best    R 3-3  F 3-3  M 2-3
  recent  R 2-3  F 1-3  M 1-3   overlaps best
  loyal   R 1-3  F 2-3  M 1-3   overlaps best and recent
  big     R 1-1  F 1-1  M 3-3
  other   the fallback
"""

from __future__ import annotations

from pathlib import Path

RULES = {
    "best": ([3, 3], [3, 3], [2, 3]),
    "recent": ([2, 3], [1, 3], [1, 3]),
    "loyal": ([1, 3], [2, 3], [1, 3]),
    "big": ([1, 1], [1, 1], [3, 3]),
}

# (r, f, m) -> the segment it gets, with the rules in file order; decided by hand from the table above
EXPECTED = {
    (3, 3, 3): "best",    # best, recent and loyal all match: the first wins
    (3, 3, 2): "best",    # M at best's lower bound
    (3, 3, 1): "recent",  # M just below best's range; recent comes before loyal
    (2, 1, 1): "recent",  # R at recent's lower bound
    (2, 3, 3): "recent",  # R just below best's range
    (1, 3, 3): "loyal",   # R just below recent's range
    (1, 2, 1): "loyal",   # F at loyal's lower bound
    (1, 1, 3): "big",
    (1, 1, 2): "other",   # M just below big's range: no rule matches
    (1, 1, 1): "other",
}


def write_params(folder: Path, order: tuple[str, ...] = ("best", "recent", "loyal", "big")) -> Path:
    """A params file in `folder` with the rules in `order`, 3 bins and a fallback 'other'."""
    lines = ["title: Overlapping rules", f"mart_dir: {folder / 'mart'}", "scores:", "  bins: 3", "segments:"]
    for seg_id in order:
        r, f, m = RULES[seg_id]
        lines += [f"  - id: {seg_id}", f"    name: {seg_id.title()}", f"    r: {r}", f"    f: {f}", f"    m: {m}",
                  *_texts(seg_id, indent="    ")]
    lines += ["fallback:", "  id: other", "  name: Other", *_texts("other", indent="  ")]
    path = folder / "overlapping.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _texts(seg_id: str, indent: str) -> list[str]:
    """The description, actions and risks every segment needs."""
    return [f"{indent}description: The {seg_id} customers.", f"{indent}actions: [Call them, Mail them]",
            f"{indent}risks: [Too many mails]"]
