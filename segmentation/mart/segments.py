"""Segments stage: the first rule (in params order) whose score ranges contain a customer's scores wins."""

from __future__ import annotations

import ibis

from segmentation.config.params import Params, Segment


def matches(table: ibis.Table, seg: Segment) -> ibis.BooleanValue:
    """True where the customer's three scores fall inside the segment's inclusive ranges."""
    return (
        table.r_score.between(*seg.r) & table.f_score.between(*seg.f) & table.m_score.between(*seg.m)
    )


def assign_segments(table: ibis.Table, params: Params) -> ibis.Table:
    """Add segment_id and segment_name; customers no rule matches get the fallback."""
    ids = [(matches(table, seg), seg.id) for seg in params.segments]
    segment_id = ibis.cases(*ids, else_=params.fallback.id)
    names = {seg.id: seg.name for seg in params.all_segments}
    with_id = table.mutate(segment_id=segment_id)
    return with_id.mutate(segment_name=with_id.segment_id.substitute(names))
