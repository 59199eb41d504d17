"""Sphinx configuration of the report site: papermill has executed the chapters, Sphinx only renders them.

`segmentation.report.site` copies this file next to the generated index page and sets `project` and
`html_title` per params file through confoverrides. Everything the pages load ships with the site: no CDN.
"""

project = "Customer segmentation"
author = "Customer analytics"
copyright = "customer analytics team"  # noqa: A001 - Sphinx's own setting name

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
master_doc = "index"
language = "en"

# MyST-NB: render stored outputs, never execute (papermill did, with parameters and a cache).
nb_execution_mode = "off"
nb_output_stderr = "remove"  # a stray warning from a library is not part of the report
nb_merge_streams = True
# The single page feeds the PDF: WeasyPrint draws PNG figures in a fraction of the time of path-heavy SVG.
nb_mime_priority_overrides = [("singlehtml", "image/png", 35)]
myst_enable_extensions = []  # no dollarmath: "$2.1M" in the text is money, not a formula
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_title = "Customer segmentation"
html_static_path = ["_static"]
html_css_files = ["report.css"]
html_favicon = "_static/favicon.svg"  # without one, browsers ask the server for /favicon.ico and log a 404
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_context = {"default_mode": "light"}  # charts are drawn on white; an empty mode is a console error
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
    "secondary_sidebar_items": [],  # the page's own contents column would leave tables too little width
    "footer_content_items": [],  # no author/copyright boilerplate under every page
}

# The theme prints some text values into HTML unescaped: the site title (`docstitle`: navbar, search page) and
# the text of page titles (`root_title`, `pagetitle`: the sidebar's home link, the print header). The title comes
# from the params and page titles from segment names, so each is escaped here, once: as markupsafe.Markup, a
# template's own `|e` leaves it as it is. The search index gets titles as text, and its script escapes them.
THEME_TEXT = ("docstitle", "shorttitle", "project", "root_title", "pagetitle", "page_description")


def _escape_theme_text(app, pagename, templatename, context, doctree):  # noqa: ANN001, ANN202, ARG001 - Sphinx's
    """Escape the theme's raw text values (after the theme has set them)."""
    from markupsafe import Markup, escape

    for key in THEME_TEXT:
        value = context.get(key)
        if isinstance(value, str) and not isinstance(value, Markup):
            context[key] = escape(value)


def setup(app):  # noqa: ANN001, ANN201 - Sphinx's extension hook
    """Register the escaping of the theme's text, after sphinx-book-theme's own page-context handlers."""
    app.connect("html-page-context", _escape_theme_text, priority=900)
