"""The Dash app: built from a mart folder, served on localhost, every asset from the app itself."""

from __future__ import annotations

from pathlib import Path

import dash
from dash import html

from segmentation.config.params import Params
from segmentation.core.errors import MartMissingError
from segmentation.dashboard.callbacks import register_callbacks
from segmentation.dashboard.data import MartSource
from segmentation.dashboard.layout import missing_mart_layout, page_layout
from segmentation.mart.store import other_owner

ASSETS = Path(__file__).parent / "assets"
DEFAULT_TITLE = "Customer segmentation"
DEFAULT_PARAMS = "params/default.yaml"


def build_commands(params: Params | None, *, force: bool = False) -> list[str]:
    """The commands that build the mart this app reads (with `force`: the one that takes over its folder)."""
    params_path = Path(params.path) if params is not None else Path(DEFAULT_PARAMS)
    if force:
        return [f"python -m segmentation run --params {params_path} --force"]
    make = "make mart" if params_path == Path(DEFAULT_PARAMS) else f"make mart PARAMS={params_path}"
    return [make, f"python -m segmentation run --params {params_path}"]


def mart_source(manifest: dict, mart_dir: Path) -> str:
    """Where the segments come from, as the mart itself records it: the name of the params file that built it."""
    name = (manifest.get("params") or {}).get("name")
    return f"params {name}" if isinstance(name, str) else f"mart {Path(mart_dir).name}"


def create_app(mart_dir: Path, *, params: Params | None = None) -> dash.Dash:
    """A dashboard over the mart in `mart_dir`; without a usable mart it shows how to build one instead."""
    title = params.title if params is not None else DEFAULT_TITLE
    mart = MartSource(Path(mart_dir), export_contacts=params is not None and params.export_contacts)
    app = dash.Dash(
        __name__,
        title=title,
        assets_folder=str(ASSETS),
        serve_locally=True,
        suppress_callback_exceptions=True,  # the 'no mart' page lacks the widgets the callbacks name
        update_title=None,
    )
    topojson_url = app.get_asset_url("topojson/")

    def layout() -> html.Div:
        """Evaluated on every page load, so a mart built after start-up shows without a restart."""
        try:
            data = mart.get()
        except MartMissingError as exc:
            return missing_mart_layout(str(exc), build_commands(params))
        other = None if params is None else other_owner(data.manifest, params.path, Path(mart_dir))
        if other is not None:  # its segments would show under the wrong params' name, title and rules
            return missing_mart_layout(
                f"{mart_dir} holds the mart of {other}, not of {params.path}: give {params.path} a mart_dir of its "
                f"own, or take this folder over (replacing the mart of {other}).", build_commands(params, force=True))
        return page_layout(data, title=title, source=mart_source(data.manifest, mart_dir),
                           topojson_url=topojson_url)

    app.layout = layout
    register_callbacks(app, mart)
    try:
        mart.get()  # load now so the first page view does not wait for the parquet
    except MartMissingError:
        pass  # the page explains; it loads the mart once someone builds it
    return app


def serve(mart_dir: Path, *, host: str = "127.0.0.1", port: int = 8050, params: Params | None = None) -> None:
    """Run the dashboard until interrupted (local analyst use: Flask's threaded server, no debug tools)."""
    app = create_app(mart_dir, params=params)
    print(f"Serving the dashboard for {mart_dir} (Ctrl+C stops it)", flush=True)
    app.run(host=host, port=port, debug=False)
