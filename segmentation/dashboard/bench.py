"""Time every dashboard callback over a built mart: `python -m segmentation.dashboard.bench MART_DIR [--repeat 20]`.

Each callback is posted to the app's own `/_dash-update-component` route through Flask's test client, so the time
includes Dash's JSON encoding of the answer; the median of `repeat` runs is reported per filter scenario.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import dash

from segmentation.dashboard.app import create_app
from segmentation.dashboard.data import DashboardData, MartSource
from segmentation.dashboard.filters import FILTER_KEYS, YES, Filters
from segmentation.dashboard.layout import EXPORT_ALL, EXPORT_MARKETING, FILTER_IDS

BUDGET_MS = 200.0


def scenarios(data: DashboardData) -> dict[str, Filters]:
    """Typical selections, from none to every filter set at once."""
    dims = data.dimensions
    top = dims["segment"].values[0]
    countries = tuple(dims["country"].values[:5])
    return {
        "no filters": Filters(),
        "premium = yes": Filters(premium=YES),
        "segment + gender + 2 categories": Filters(segment=(top,), gender=(dims["gender"].values[0],),
                                                   category=tuple(dims["category"].values[:2])),
        "5 countries + opted in": Filters(country=countries, opt_in=YES),
        "every filter": Filters(
            segment=(top,), gender=(dims["gender"].values[0],), category=(dims["category"].values[0],),
            device=(dims["device"].values[0],), country=countries, premium=YES, opt_in=YES,
        ),
    }


def callback_bodies(app: dash.Dash, filters: Filters) -> dict[str, dict]:
    """The request body the browser would post for each callback when the widgets hold `filters`."""
    widgets = filters.as_values()
    value_of = {FILTER_IDS[key]: widgets[key] for key in FILTER_KEYS}
    value_of |= {"url": "", "reset-filters": 0, "export-button": 1}
    scope = {"all rows": EXPORT_ALL, "marketing": EXPORT_MARKETING}
    bodies = {}
    for output, spec in app.callback_map.items():
        outputs = [{"id": o.component_id, "property": o.component_property} for o in spec["output"]] \
            if isinstance(spec["output"], list) else {"id": spec["output"].component_id,
                                                      "property": spec["output"].component_property}
        name = _callback_name(output)
        variants = scope.items() if name == "export" else [("", None)]
        for suffix, export_scope in variants:
            values = value_of | {"export-scope": export_scope}
            body = {
                "output": output,
                "outputs": outputs,
                "inputs": [dict(item, value=values[item["id"]]) for item in spec["inputs"]],
                "state": [dict(item, value=values[item["id"]]) for item in spec["state"]],
                # the widgets changed (the filters → URL direction of the sync callback)
                "changedPropIds": [f"{FILTER_IDS['premium']}.value" if name != "export" else "export-button.n_clicks"],
            }
            bodies[f"{name} ({suffix})" if suffix else name] = body
    return bodies


def _callback_name(output: str) -> str:
    """A short name for a callback from its output key."""
    if "url.search" in output:
        return "filters → URL"
    if "kpi-cards" in output:
        return "KPI cards"
    if "graph-" in output:
        return "7 charts"
    return "export"


def median_ms(run: Callable[[], object], repeat: int) -> float:
    """Median wall time of `run` in milliseconds (after one warm-up run)."""
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Print a table of callback times per scenario; exit 1 when one exceeds the budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mart_dir", type=Path)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    data = MartSource(args.mart_dir).get()
    load_ms = (time.perf_counter() - start) * 1000
    app = create_app(args.mart_dir)
    client = app.server.test_client()
    client.get("/_dash-layout")  # loads the mart into the app once, as the first page view does
    print(f"mart {args.mart_dir}: {data.customers:,} customers, loaded and prepared in {load_ms:.0f} ms")
    print(f"median of {args.repeat} runs, ms (response size in kB)")
    worst = 0.0
    for label, filters in scenarios(data).items():
        selected = int(data.mask(filters).sum())
        cells = []
        for name, body in callback_bodies(app, filters).items():
            payload = json.dumps(body)
            sizes = []

            def post(payload: str = payload, sizes: list[int] = sizes) -> None:  # bound now, not at call time
                response = client.post("/_dash-update-component", data=payload, content_type="application/json")
                assert response.status_code in (200, 204), response.data[:500]
                sizes.append(len(response.data))

            ms = median_ms(post, args.repeat)
            worst = max(worst, ms)
            cells.append(f"{name}: {ms:.1f} ({sizes[-1] / 1000:,.1f} kB)")
        print(f"- {label} [{selected:,} customers]: " + "; ".join(cells))
    print(f"slowest callback: {worst:.1f} ms (budget {BUDGET_MS:.0f} ms)")
    return 0 if worst <= BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
