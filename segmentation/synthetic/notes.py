"""The metadata JSON written beside a generated customer file: the reference schema's fields and, in plain
sentences, every distribution and correlation the generator uses (its ``generation`` section)."""

from __future__ import annotations

import json
from datetime import date

from segmentation.config.schema import field_names, metadata
from segmentation.synthetic import transactions_log
from segmentation.synthetic.customers import (
    AGE_BETA,
    AGE_RANGE,
    AOV_LOG_SIGMA,
    AOV_MINIMUM,
    AOV_PER_INCOME_SD,
    CATEGORY_AOV_MEDIAN,
    CATEGORY_WEIGHTS,
    CHUNK_ROWS,
    CHURN_INTERCEPT,
    CHURN_NOISE_SD,
    CHURN_PER_YEAR_SINCE_PURCHASE,
    CHURN_PREMIUM_SHIFT,
    CITY_POOL_DRAWS,
    CITY_ZIPF_OFFSET,
    COUNTRY_WEIGHTS,
    CREDIT_MEAN,
    CREDIT_NOISE_SD,
    CREDIT_PER_INCOME_SD,
    CREDIT_PER_YEAR_OF_AGE,
    CREDIT_RANGE,
    DEVICE_MOBILE_AT_18,
    DEVICE_MOBILE_DROP_PER_YEAR,
    DEVICE_TABLET_SHARE,
    EMAIL_DOMAINS,
    EMAIL_NUMBER_RANGE,
    EXTRA_COST_MAX,
    FIRST_PURCHASE_SKEW,
    FIRST_PURCHASE_START,
    GENDER_WEIGHTS,
    INCOME_AGE_PIVOT,
    INCOME_AGE_PLATEAU,
    INCOME_AGE_SLOPE,
    INCOME_LOG_SIGMA,
    INCOME_MEDIAN,
    LOYALTY_LOG_NOISE_SD,
    LOYALTY_POINTS_PER_DOLLAR,
    MARKETING_OPT_IN_RATE,
    PREMIUM_AOV_FACTOR,
    PREMIUM_LOYALTY_POINTS_PER_DOLLAR,
    PREMIUM_ORDERS_FACTOR,
    REPEAT_ORDERS_GAMMA_SHAPE,
    REPEAT_ORDERS_PER_YEAR,
    REPEAT_ORDERS_TENURE_OFFSET_YEARS,
    SUBSCRIPTION_BASE_RATE,
    SUBSCRIPTION_PER_INCOME_SD,
    TICKETS_BASE_RATE,
    TICKETS_PER_LOG_ORDER,
    resolve_as_of,
)
from segmentation.synthetic.ids import (
    CUSTOMER_ID_RANGE,
    ID_PERMUTATION_ROUNDS,
    UNIQUE_ID_FIVE_DIGIT_MAX_ROWS,
    UNIQUE_ID_SPREAD,
    UNIQUE_ID_STREAM,
)

CORRELATIONS = (
    "Income rises with age up to 60; credit_score rises with income and age.",
        "Subscribers are more common at higher incomes, place more orders, have a higher "
        "avg_order_value, earn loyalty points faster and have lower churn_risk.",
        "Customers with more orders bought more recently (negative correlation between "
        "orders and days since last purchase) and open more support tickets.",
        "Longer-standing customers have more orders.",
        "total_spent is avg_order_value times orders; loyalty_points follow total_spent.",
        "churn_risk rises with days since the last purchase.",
    "Older customers shop on desktops more, younger on mobiles.",
)
CSV_FORMAT = (
    "Comma-separated, header row, '\\n' line endings, no quoting (no value contains a "
    "comma, quote or newline); dates YYYY-MM-DD; booleans True/False; floats in the "
    "shortest form that reads back exactly (e.g. 120.5, 100, 0.03)."
)


def generation_notes(as_of: date | None = None, *, transactions: bool = False) -> dict:
    """Describe, in plain sentences, every distribution and correlation the generator uses.

    With `transactions`, describe the unique customer ids of a run that writes
    a transaction log, and add a ``transactions`` section about the log.
    """
    as_of = resolve_as_of(as_of)
    columns = {**_people_notes(), **_finance_notes(), **_purchase_notes(), **_behaviour_notes()}
    notes = {
        "generator": "segmentation.synthetic.generate",
        "as_of": as_of.isoformat(),
        "randomness": _randomness_note(),
        "columns": {name: columns[name] for name in field_names()},
        "orders": _orders_note(),
        "correlations": list(CORRELATIONS),
        "csv_format": CSV_FORMAT,
    }
    if transactions:
        notes["columns"]["customer_id"] = _unique_ids_note()
        notes["transactions"] = transactions_log.generation_notes()
    return notes


def _randomness_note() -> str:
    """Where the randomness comes from, and what makes two runs byte-identical."""
    return (
        "All values come from one numpy.random.default_rng(seed) stream, consumed in "
        f"chunks of {CHUNK_ROWS:,} rows; Faker (seeded with the same seed) only builds "
        "the city vocabulary. The same rows, seed and as_of give byte-identical files."
    )


def _people_notes() -> dict[str, str]:
    """Notes on the identity columns: id, name, email, age, gender, city and country."""
    low_id, high_id = CUSTOMER_ID_RANGE
    low_age, high_age = AGE_RANGE
    boosted = ", ".join(f"{name} x{weight:g}" for name, weight in COUNTRY_WEIGHTS.items())
    return {
        "customer_id": (
            f"Five-digit id drawn uniformly WITH replacement from {low_id}-{high_id}, so ids "
            "repeat (about 27,450 ids occur more than once in 100,000 rows)."
        ),
        "name": (
            "First name plus last name from Faker's en_US name lists, weighted by their US "
            "frequencies; female first names for Female, male for Male, either (50/50) otherwise."
        ),
        "email": (
            f"first.last<n>@domain, lower case, n uniform in {EMAIL_NUMBER_RANGE[0]}-"
            f"{EMAIL_NUMBER_RANGE[1]}, domain uniform among {', '.join(EMAIL_DOMAINS)} "
            "(reserved example domains only)."
        ),
        "age": (
            f"{low_age} + floor({high_age - low_age + 1} x Beta{AGE_BETA}), an integer in "
            f"{low_age}-{high_age} peaking in the late thirties."
        ),
        "gender": "Categorical with weights " + _format_weights(GENDER_WEIGHTS) + ".",
        "city": (
            f"From a pool of distinct Faker en_US city names ({CITY_POOL_DRAWS:,} seeded draws); "
            f"the k-th pool city has weight 1/(k + {CITY_ZIPF_OFFSET}), so a few cities are large."
        ),
        "country": (
            "From Faker's English country list (including legacy names such as Korea, "
            "Libyan Arab Jamahiriya and Netherlands Antilles), weight 1 each except "
            f"{boosted}."
        ),
    }


def _finance_notes() -> dict[str, str]:
    """Notes on income, credit score, subscription and marketing opt-in."""
    low_credit, high_credit = CREDIT_RANGE
    return {
        "income": (
            f"Lognormal in USD with median {INCOME_MEDIAN:,.0f} at age {INCOME_AGE_PIVOT} and "
            f"log-sd {INCOME_LOG_SIGMA}; the log median rises {INCOME_AGE_SLOPE} per year of age "
            f"up to age {INCOME_AGE_PLATEAU} and is flat after. Rounded to cents."
        ),
        "credit_score": (
            f"Normal around {CREDIT_MEAN:g}, plus {CREDIT_PER_INCOME_SD:g} points per standard "
            f"deviation of log income and {CREDIT_PER_YEAR_OF_AGE:g} points per year of age "
            f"above {INCOME_AGE_PIVOT}, noise sd {CREDIT_NOISE_SD:g}; rounded and clipped to "
            f"{low_credit}-{high_credit}."
        ),
        "subscription": (
            f"Premium subscription with probability logistic(logit({SUBSCRIPTION_BASE_RATE}) + "
            f"{SUBSCRIPTION_PER_INCOME_SD} x income z-score), about "
            f"{SUBSCRIPTION_BASE_RATE:.0%} overall and more likely at higher incomes."
        ),
        "marketing_opt_in": (
            f"True with probability {MARKETING_OPT_IN_RATE:.0%}, independent of everything else."
        ),
    }


def _purchase_notes() -> dict[str, str]:
    """Notes on the purchase history: loyalty points, purchase dates, spend and order value."""
    return {
        "loyalty_points": (
            f"floor(total_spent x rate x lognormal noise (log-sd {LOYALTY_LOG_NOISE_SD})), rate "
            f"{LOYALTY_POINTS_PER_DOLLAR:g} point per dollar, {PREMIUM_LOYALTY_POINTS_PER_DOLLAR:g} "
            "for subscribers; never negative."
        ),
        "first_purchase_date": (
            f"Between {FIRST_PURCHASE_START.isoformat()} and as_of inclusive, at fraction "
            f"u^{FIRST_PURCHASE_SKEW} of that span (u uniform), so more customers joined recently."
        ),
        "last_purchase_date": (
            "Equal to first_purchase_date for one-order customers; otherwise as_of minus a "
            "Beta(1, 0.5 + 0.5 x orders) fraction of the days since the first purchase, so it is "
            "never before the first purchase nor after as_of, and frequent buyers are recent."
        ),
        "total_spent": (
            f"avg_order_value x (orders + u), u uniform in [0, {EXTRA_COST_MAX}) for shipping and "
            "fees, rounded to cents; round(total_spent / avg_order_value) gives the order count "
            "and total_spent >= avg_order_value."
        ),
        "avg_order_value": (
            "Lognormal with a median set by favorite_category ("
            + ", ".join(f"{name} {median:g}" for name, median in CATEGORY_AOV_MEDIAN.items())
            + f" USD), log-sd {AOV_LOG_SIGMA}, times exp({AOV_PER_INCOME_SD} x income z-score) "
            f"and x{PREMIUM_AOV_FACTOR:g} for subscribers; rounded to cents, at least "
            f"{AOV_MINIMUM:.2f}."
        ),
    }


def _behaviour_notes() -> dict[str, str]:
    """Notes on favourite category, device, churn risk and support tickets."""
    low_age = AGE_RANGE[0]
    return {
        "favorite_category": "Categorical with weights " + _format_weights(CATEGORY_WEIGHTS) + ".",
        "device_type": (
            f"Mobile with probability {DEVICE_MOBILE_AT_18} at age {low_age}, falling "
            f"{DEVICE_MOBILE_DROP_PER_YEAR} per year of age; Tablet {DEVICE_TABLET_SHARE:.0%}; "
            "Desktop otherwise (older customers use desktops more)."
        ),
        "churn_risk": (
            f"Logistic of {CHURN_INTERCEPT:g} + {CHURN_PER_YEAR_SINCE_PURCHASE:g} x years since "
            f"the last purchase {CHURN_PREMIUM_SHIFT:+g} for subscribers + normal noise (sd "
            f"{CHURN_NOISE_SD}), rounded to 3 decimals; in [0, 1] and rising with recency."
        ),
        "support_tickets": (
            f"Poisson with mean {TICKETS_BASE_RATE} + {TICKETS_PER_LOG_ORDER} x ln(orders), so "
            "customers with more orders open a few more tickets."
        ),
    }


def _orders_note() -> str:
    """How many orders a customer has (not a column, but total_spent and the orders log follow it)."""
    return (
        "The number of orders (not a column) is 1 + Poisson(rate), rate = "
        f"{REPEAT_ORDERS_PER_YEAR} x (years since first purchase + "
        f"{REPEAT_ORDERS_TENURE_OFFSET_YEARS}) x Gamma(shape {REPEAT_ORDERS_GAMMA_SHAPE}, mean 1) "
        f"x {PREMIUM_ORDERS_FACTOR:g} for subscribers: at least 1, with a long tail."
    )


def _unique_ids_note() -> str:
    """The customer_id note of a run that writes an orders log (ids are then unique)."""
    low_id, high_id = CUSTOMER_ID_RANGE
    return (
        f"Unique: drawn WITHOUT replacement from {low_id}-{high_id} when rows <= "
        f"{UNIQUE_ID_FIVE_DIGIT_MAX_ROWS:,}, else from {low_id} to max({high_id}, "
        f"{UNIQUE_ID_SPREAD} x rows), as a seeded permutation of that range (a "
        f"{ID_PERMUTATION_ROUNDS}-round Feistel network keyed from SeedSequence(seed, "
        f"spawn_key=({UNIQUE_ID_STREAM},))), so orders join to exactly one customer. Every "
        "other column is the same as in a run without a transaction log."
    )


def metadata_json(rows: int, seed: int, as_of: date, *, transactions: bool = False) -> str:
    """Return the metadata JSON text for a generated file."""
    reference = metadata()
    document = {
        "dataset_name": reference["dataset_name"],
        "description": reference["description"],
        "num_rows": rows,
        "generated_on": as_of.isoformat(),
        "seed": seed,
    }
    document.update({key: value for key, value in reference.items() if key not in document})
    document["generation"] = generation_notes(as_of, transactions=transactions)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _format_weights(weights: dict[str, float]) -> str:
    """Return category weights as readable percentages."""
    return ", ".join(f"{name} {weight:.1%}" for name, weight in weights.items())
