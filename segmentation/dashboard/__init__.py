"""Analyst dashboard over the mart: filter the segments, watch the numbers move, export a campaign list."""

from segmentation.dashboard.app import create_app, serve

__all__ = ["create_app", "serve"]
