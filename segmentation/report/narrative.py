"""The report's sentences: Markdown blocks built from the mart's numbers (headings stay in the chapter templates).

Every block is an `Md` template whose fields are escaped to text (segmentation.report.escape): names, descriptions,
actions and risks from the params and categories from the customer file can never become markup.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segmentation.report import insights as insight_words
from segmentation.report.context import ReportContext
from segmentation.report.display import Markdown
from segmentation.report.escape import Md, md_code, md_code_block
from segmentation.report.recommend import recommendations
from segmentation.report.tables import check_action
from segmentation.words import formatting as fmt
from segmentation.words.attributes import ATTRIBUTES, Attributes, known_attributes, named


def headline(ctx: ReportContext) -> Markdown:
    """The run in one paragraph: customers, revenue, reference date, segments; then which attributes the data lacks
    (their views are left out of the whole report)."""
    ins = ctx.mart.insights
    live = int((ctx.summary["customers"] > 0).sum())
    text = Md(
        "**{customers} customers** with **{revenue}** of lifetime revenue, scored on recency, frequency and "
        "monetary value as of **{date}** and split into **{live} segments** by the rules in {file}."
    ).format(customers=fmt.count(ins["customers"]), revenue=ctx.money(ins["revenue"]), date=ctx.reference_date,
             live=live, file=md_code(ctx.params.path.name))
    return Markdown(text + unknown_attributes_note(ctx))


def unknown_attributes_note(ctx: ReportContext) -> Md:
    """'This data has no age, gender, …: those views are left out.' as its own paragraph, or nothing."""
    note = ctx.attributes.note()
    return Md("\n\n*{}*").format(note) if note else Md("")


def key_insights(ctx: ReportContext) -> Markdown:
    """The four key insights: title, sentence and the numbers behind each (segmentation.report.insights)."""
    items = []
    for i, item in enumerate(ctx.mart.insights["insights"], start=1):
        numbers = insight_numbers({k: v for k, v in item["numbers"].items() if k not in insight_words.SCORE_BOUNDS},
                                  ctx.money)
        definition = insight_words.definition(item)
        if definition:
            numbers += f"{'; ' if numbers else ''}definition: {definition}"
        line = Md("{}. **{}.** {}").format(i, insight_words.title(item), insight_words.sentence(item, ctx.money))
        if numbers and insight_words.measured(item):
            line += Md("  \n   *Numbers:* {}").format(numbers)
        items.append(line)
    return Markdown(Md("\n").join(items))


def insight_numbers(numbers: dict[str, Any], money: fmt.Money) -> str:
    """An insight's numbers as short text: shares as percentages, amounts in `money`, intervals as ranges."""
    parts = []
    confidence = numbers.get("confidence", 0.95)
    for key, value in numbers.items():
        label = key.replace("_", " ")
        if key == "confidence" and any(isinstance(v, dict) for v in numbers.values()):
            continue  # shown with each interval
        if isinstance(value, dict) and "ratio" in value and value["ratio"] is None:
            parts.append(f"{label}: not measured")
        elif isinstance(value, dict) and "ratio" in value:
            verdict = "meaningful" if value.get("meaningful") else "not meaningful: the interval contains 1"
            conf = fmt.share(value.get("confidence", confidence), 0)
            interval = f"{value['ci_low']:.2f}–{value['ci_high']:.2f}"
            parts.append(f"{label} ×{value['ratio']:.2f} ({conf} CI {interval}, {verdict})")
        elif isinstance(value, dict):
            parts.append(f"{label}: " + ", ".join(f"{k.replace('_', ' ')} {_number(k, v, money)}"
                                                  for k, v in value.items()))
        elif isinstance(value, str):
            parts.append(f"{label}: {value}")
        else:
            parts.append(f"{label} {_number(key, value, money)}")
    return "; ".join(parts)


def _number(key: str, value: Any, money: fmt.Money) -> str:
    """One number, formatted by what its key says it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if any(word in key for word in ("share", "rate", "pct")) and -1 <= value <= 1:
        return fmt.share(value)
    if any(word in key for word in ("revenue", "spend", "monetary", "value")):
        return money(value)
    if isinstance(value, int) or float(value).is_integer():
        return fmt.count(value)
    return f"{value:,.2f}"


def data_quality_overview(ctx: ReportContext) -> Markdown:
    """What was checked, what was found and what was done, in a few sentences."""
    q = ctx.mart.quality
    dup = q["duplicate_ids"]
    found = [c for c in q["checks"] if c["count"]]
    dropped = q["rows_in"] - q["rows_out"]
    orders = q.get("orders")
    if orders:
        attributes = (_order_attributes(ctx) if not q["input"] else
                      Md("attributes from the customer file {}").format(md_code(_file_name(q["input"]))))
        if not q["input"] and orders.get("attributes"):
            attributes = Md("no customer file: {} from the orders (each customer's most frequent value), other "
                            "attributes unknown").format(named(orders["attributes"], "and"))
        visits = "distinct order ids" if orders["frequency"] == "orders" else "distinct purchase days (no order id)"
        lines = [Md(
            "The orders table {file} ({files} file(s)) had **{rows_in} rows**; **{rows_out}** were counted. They "
            "roll up into **{customers_in} customers** (frequency = {visits}), with {attributes}; **{customers_out}** "
            "customers reached the mart. {checks} checks ran; {found} found something."
        ).format(file=md_code(_file_name(orders["path"])), files=fmt.count(orders["files"]),
                 rows_in=fmt.count(orders["rows_in"]), rows_out=fmt.count(orders["rows_out"]),
                 customers_in=fmt.count(q["rows_in"]), visits=visits, attributes=attributes,
                 customers_out=fmt.count(q["rows_out"]), checks=len(q["checks"]), found=len(found))]
        if orders.get("customers_without_orders"):
            lines.append(Md("\n{} customers of the customer file have no counted order and are not in the mart.")
                         .format(fmt.count(orders["customers_without_orders"])))
        lines += returns_words(orders.get("returns"), ctx.money)
    else:
        lines = [Md(
            "The customer file {file} had **{rows_in} rows**; **{rows_out}** reached the mart (**{dropped} dropped**). "
            "{checks} checks ran; {found} found something."
        ).format(file=md_code(_file_name(q["input"])), rows_in=fmt.count(q["rows_in"]),
                 rows_out=fmt.count(q["rows_out"]), dropped=fmt.count(dropped), checks=len(q["checks"]),
                 found=len(found))]
    lines += [
        Md(""),
        Md("- **Duplicated customer ids:** {} ids are used by {} rows. Every customer got a new unique id "
           "(`C000001`…, in order of first purchase); the file's id is kept as `source_customer_id`, so no "
           "customer is merged or lost.").format(fmt.count(dup["ids"]), fmt.count(dup["rows"])),
    ]
    for check in found:
        if check["id"] == "duplicate_ids":
            continue
        lines.append(Md("- **{}** ({}): {} rows, policy *{}* → {}.").format(
            check["id"], check["description"], fmt.count(check["count"]), check["policy"], check_action(check)))
    return Markdown(Md("\n").join(lines) + unknown_attributes_note(ctx))


def _order_attributes(ctx: ReportContext) -> str:
    """What orders without a customer file tell about each customer: the purchases, and any attribute the orders
    give (e.g. the country of their orders)."""
    known = [ATTRIBUTES[field] for field in ATTRIBUTES if field in ctx.attributes.known]
    if not known:
        return "no customer file, so only purchases are known"
    listed = known[0] if len(known) == 1 else f"{', '.join(known[:-1])} and {known[-1]}"
    return f"no customer file: the orders give the purchases and each customer's {listed}"


def returns_words(returns: dict[str, Any] | None, money: fmt.Money) -> list[Md]:
    """What the returns policy did, in plain words: rows, customers and value (in `money`) netted or dropped, and the
    customers whose purchases net to nothing (empty when there were no returns and no such customer)."""
    if not returns:
        return []
    lines = []
    if returns["rows"]:
        done = (Md("netted: subtracted from the same customers' purchases") if returns["policy"] == "net"
                else Md("dropped: left out of the customers' purchases (returns policy *drop*)"))
        lines.append(Md("\n**Returns and cancellations:** {rows} return rows ({pattern}) from {customers} "
                        "customers, worth {value}, were {done}. Frequency and purchase dates count purchases only.")
                     .format(rows=fmt.count(returns["rows"]), customers=fmt.count(returns["customers"]),
                             value=money(returns["value"]), done=done,
                             pattern="negative quantity or value" if not returns.get("order_id_pattern") else
                             Md("negative quantity or value, or an order id matching {}").format(
                                 md_code(returns["order_id_pattern"]))))
    if returns["customers_not_positive"]:
        n = returns["customers_not_positive"]
        lines.append(Md("\n**{n}** {who} a net value of zero or less (their returns outweigh their purchases, or they "
                        "only returned); they are not scored, and the checks below count them.")
                     .format(n=fmt.count(n), who="customer has" if n == 1 else "customers have"))
    return lines


def _frequency_words(ctx: ReportContext) -> Md | str:
    """How the number of orders was counted: from an orders table, or recovered from the customer file's totals."""
    orders = ctx.mart.quality.get("orders")
    if not orders:
        return Md("number of orders, `max(1, round(total spent ÷ average order value))`")
    if orders["frequency"] == "orders":
        return "number of distinct orders (order ids) in the orders table"
    return "number of distinct days with a purchase (the orders table has no order id)"


def _file_name(path: str) -> str:
    """The file name of a path (the folder is machine-specific and says nothing to a reader)."""
    return str(path).replace("\\", "/").rsplit("/", 1)[-1]


def rfm_definitions(ctx: ReportContext) -> Markdown:
    """What R, F and M mean in this run and how scores are given."""
    bins = ctx.params.bins
    return Markdown(Md(
        "- **Recency (R)**: days from the last purchase to the reference date **{date}**; fewer days is better.\n"
        "- **Frequency (F)**: {frequency}.\n"
        "- **Monetary (M)**: total spent over the customer's lifetime.\n\n"
        "Each measure is cut at its quantiles into **{bins} scores**, 1 (worst) to {bins} (best; for recency the "
        "most recent). The cut-offs below are the values at k/{bins} of the distribution. A customer's RFM code is "
        "the three scores (e.g. {best} = best on all three). The rules are evaluated top to bottom; the first rule "
        "whose three ranges contain the customer's scores names the segment, and customers no rule matches fall to "
        "**{fallback}**."
    ).format(date=ctx.reference_date, frequency=_frequency_words(ctx), bins=bins, best=md_code(f"{bins}" * 3),
             fallback=ctx.params.fallback.name))


def segment_headline(ctx: ReportContext, segment_id: str) -> Markdown:
    """What the segment is and the rule that defines it."""
    row = ctx.summary_row(segment_id)
    seg = ctx.segment(segment_id)
    rule = ("every customer no earlier rule matches (the fallback)" if seg.is_fallback else
            f"R {fmt.score_span(seg.r)}, F {fmt.score_span(seg.f)}, M {fmt.score_span(seg.m)} "
            f"(precedence {int(row['precedence'])})")
    return Markdown(Md("{}\n\n*Rule:* {}.").format(seg.description, rule))


def segment_size(ctx: ReportContext, segment_id: str) -> Markdown:
    """The segment's size, revenue and shares, and its average customer."""
    row = ctx.summary_row(segment_id)
    if row["customers"] == 0:
        return Markdown(Md("**No customers** fall in this segment in this run."))
    known = []
    if ctx.attributes.knows("subscription"):
        known.append(f"{fmt.share(row['premium_rate'])} are premium subscribers")
    if ctx.attributes.knows("marketing_opt_in"):
        known.append(f"{fmt.share(row['opt_in_rate'])} opted in to marketing")
    attributes = f"; {' and '.join(known)}" if known else ""
    return Markdown(Md(
        "**{customers} customers** ({customer_share} of all customers) with **{revenue}** of revenue "
        "({revenue_share} of all revenue). On average they spent {spend} over {orders:.1f} orders and last bought "
        "{days:,.0f} days before the reference date{attributes}."
    ).format(customers=fmt.count(row["customers"]), customer_share=fmt.share(row["customer_share"]),
             revenue=ctx.money(row["revenue"]), revenue_share=fmt.share(row["revenue_share"]),
             spend=ctx.money(row["avg_monetary"]), orders=row["avg_frequency"], days=row["avg_recency_days"],
             attributes=attributes))


def segment_actions(ctx: ReportContext, segment_id: str) -> Markdown:
    """The params file's recommended actions, each with the numbers that size it."""
    members = ctx.members(segment_id)
    lines = []
    for i, action in enumerate(ctx.segment(segment_id).actions, start=1):
        lines.append(Md("{}. **{}**  \n   *Sized:* {}").format(
            i, action, action_sizing(action, members, ctx.money, ctx.attributes)))
    return Markdown(Md("\n").join(lines))


def action_sizing(action: str, members: pd.DataFrame, money: fmt.Money, attributes: Attributes | None = None) -> str:
    """The audience of an action in numbers: who can be reached, what they are worth (in `money`), and what the action
    names; only from the attributes the data has (`attributes`; by default those the members have any value for).

    Plain text (it names the segment's top category from the customer file): escaped where it is shown.
    """
    if members.empty:
        return "no customers in this segment in this run."
    known = attributes if attributes is not None else known_attributes(members)
    if known.knows("marketing_opt_in"):
        opted = members[members["marketing_opt_in"].eq(True)]
        text = (f"{fmt.count(len(opted))} opted-in customers of {fmt.count(len(members))}, "
                f"{money(opted['monetary'].sum())} revenue to date "
                f"({money(members['monetary'].sum())} for the whole segment)")
    else:  # no marketing consent in this data: who can be reached is not known
        text = f"{fmt.count(len(members))} customers, {money(members['monetary'].sum())} revenue to date"
    words = action.lower()
    top = members["favorite_category"].value_counts()
    if ("category" in words or "recommend" in words or "cross-sell" in words) and len(top):
        text += f"; top category {top.index[0]} ({fmt.share(top.iloc[0] / len(members), 0)} of the segment)"
    if ("ticket" in words or "service" in words or "survey" in words or "why" in words) \
            and known.knows("support_tickets"):
        tickets = int((members["support_tickets"] > 0).sum())
        text += f"; {fmt.count(tickets)} have opened support tickets"
    if ("loyalty" in words or "tier" in words or "premium" in words or "membership" in words) \
            and known.knows("subscription"):
        non_premium = int(members["subscription"].eq(False).sum())
        text += f"; {fmt.count(non_premium)} are not premium subscribers"
    if "referral" in words or "review" in words or "advocate" in words:
        best = int((members["m_score"] == members["m_score"].max()).sum())
        text += f"; {fmt.count(best)} have the top M score"
    return text + "."


def segment_risks(ctx: ReportContext, segment_id: str) -> Markdown:
    """The params file's risks, then watchouts the data shows (churn risk, reach, tickets, size, flagged rows)."""
    lines = [Md("- {}").format(risk) for risk in ctx.segment(segment_id).risks]
    lines += [Md("- *From the data:* {}").format(w) for w in data_watchouts(ctx, segment_id)]
    return Markdown(Md("\n").join(lines))


def data_watchouts(ctx: ReportContext, segment_id: str) -> list[str]:
    """Warnings the segment's numbers raise on their own (plain text)."""
    row = ctx.summary_row(segment_id)
    if row["customers"] == 0:
        return ["the segment is empty in this run; revisit the rules before planning for it."]
    out = []
    if row["customer_share"] < 0.02:
        out.append(f"only {fmt.count(row['customers'])} customers ({fmt.share(row['customer_share'])}): "
                   "campaign results will be noisy; test on the whole segment, not a sample.")
    if row["delta_avg_churn_risk"] > 0.1:
        out.append(f"average churn risk is {fmt.delta(row['delta_avg_churn_risk'])} vs all customers "
                   f"({row['avg_churn_risk']:.2f}).")
    if row["delta_opt_in_rate"] < -0.1:  # NaN (no consent in this data) is never below
        out.append(f"only {fmt.share(row['opt_in_rate'])} opted in to marketing "
                   f"({fmt.delta(row['delta_opt_in_rate'])} vs all customers): email reach is limited.")
    if row["delta_avg_support_tickets"] > 0.1:
        out.append(f"{fmt.delta(row['delta_avg_support_tickets'])} more support tickets than average: "
                   "fix service issues before selling.")
    flags = ctx.members(segment_id)["dq_flags"].fillna("").astype(str)
    flagged = int((flags != "").sum())
    if flagged:
        per_check = flags[flags != ""].str.split(",").explode().str.strip().value_counts()
        detail = ", ".join(f"{check}: {fmt.count(n)}" for check, n in per_check.items())
        out.append(f"{fmt.count(flagged)} customers carry data-quality flags ({detail}); they are kept, "
                   "see the data quality review.")
    return out


def recommendation_details(ctx: ReportContext) -> Markdown:
    """Each recommendation: its target segments, why they were chosen, what to do, and the audience size."""
    blocks = []
    for i, rec in enumerate(recommendations(ctx), start=1):
        targets = Md(", ").join(Md("**{}**").format(ctx.names[sid]) for sid in rec.segment_ids)
        actions = Md("\n").join(Md("   - {}").format(a) for a in rec.actions)
        opted_in = (f"{fmt.count(rec.opted_in)} opted in to marketing, " if ctx.attributes.knows("marketing_opt_in")
                    else "")
        blocks.append(Md(
            "{i}. **{title}** → {targets}  \n   *Why:* {why}  \n   *Audience:* {customers} customers, "
            "{opted_in}{revenue} revenue to date.  \n   *What to do:*\n{actions}"
        ).format(i=i, title=rec.title, targets=targets, why=rec.why, customers=fmt.count(rec.customers),
                 opted_in=opted_in, revenue=ctx.money(rec.revenue), actions=actions))
    return Markdown(Md("\n").join(blocks))


def params_yaml(ctx: ReportContext) -> Markdown:
    """The params file exactly as used, as a YAML code block."""
    text = ctx.params.path.read_text(encoding="utf-8").rstrip("\n")
    return Markdown(Md("{} (sha256 {}):\n\n{}").format(
        md_code(ctx.params.path.name), md_code(f"{ctx.params.sha256[:16]}…"), md_code_block(text, "yaml")))
