"""Which of the project's own synthetic input files a params file reads and lacks (`python -m segmentation data`).

The project ships no data: `make report` generates it. A params file asks for generated data only by pointing at
the project's synthetic paths, never by its name: the customer file `data/raw/synthetic_customers.csv`, or the
orders log `data/raw/orders` (with its customer file `data/raw/tx_customers.csv`, or none). Any other path is the
user's own data, which is never generated; when it is missing, `run` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segmentation.config.params import Params

PROJECT_CUSTOMERS = Path("data/raw/synthetic_customers.csv")
PROJECT_ORDER_CUSTOMERS = Path("data/raw/tx_customers.csv")  # unique ids: the orders join them
PROJECT_ORDERS = Path("data/raw/orders")  # a folder of Parquet part files


@dataclass(frozen=True)
class ProjectInputs:
    """Synthetic files to generate: the customer file and, for transaction input, the orders log beside it."""

    customers: Path
    orders: Path | None = None


def missing_project_inputs(params: Params, root: Path | None = None) -> ProjectInputs | None:
    """The project's synthetic files to generate for these params (relative paths under `root`, default: the
    working folder), or None when the params read other data or the files they read are all there."""
    root = root or Path.cwd()
    if params.transactions is None:
        if _is(params.input_path, root / PROJECT_CUSTOMERS) and not params.input_path.exists():
            return ProjectInputs(root / PROJECT_CUSTOMERS)
        return None
    customers, orders = root / PROJECT_ORDER_CUSTOMERS, root / PROJECT_ORDERS
    if not _is(Path(params.transactions.path), orders):
        return None
    if params.input_path is not None and not _is(params.input_path, customers):
        return None  # the generated orders belong to the generated customers, not to another file
    needed = [orders] if params.input_path is None else [orders, customers]
    return None if all(p.exists() for p in needed) else ProjectInputs(customers, orders)


def _is(path: Path | None, project_path: Path) -> bool:
    """Whether a path the params give is the project's file (the same file, however it is written)."""
    return path is not None and path.resolve() == project_path.resolve()
