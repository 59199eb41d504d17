"""Seeded, vectorised generator of the synthetic customer file and, optionally, its orders log.

The schema (column names, order and types) comes from the reference metadata
JSON shipped in ``segmentation/reference``, read through ``segmentation.config.schema``.
The distributions and correlations are documented in plain sentences in the
``generation`` section of the metadata JSON written beside every generated CSV
(see :func:`generation_notes`).

The same ``rows``, ``seed`` and ``as_of`` always give byte-identical CSV and
JSON files: all randomness comes from one ``numpy.random.default_rng(seed)``,
Faker is only used to build a seeded vocabulary of city names, and ``as_of``
defaults to a fixed date rather than today.

``write_customers(..., transactions=PATH)`` also writes a transaction log (see
:mod:`segmentation.synthetic.transactions_log`) that aggregates back to the customer
file. Orders must join to one customer, so that run gives customers unique ids:
a seeded permutation of a wider id range, drawn from its own random stream and
swapped in after each chunk is drawn, so every other column is the same as in
a run without a log. Without a log the output is unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from faker import Faker
from faker.providers.address.en import Provider as EnglishAddressProvider
from faker.providers.person.en_US import Provider as UsPersonProvider

from segmentation.config.schema import field_names, metadata
from segmentation.core import atomic
from segmentation.core.errors import SegmentationError
from segmentation.synthetic import transactions_log

DEFAULT_AS_OF = date(2026, 11, 1)
FIRST_PURCHASE_START = date(2018, 1, 1)
# Bounds memory: the CSV is written one chunk at a time.
CHUNK_ROWS = 500_000

CUSTOMER_ID_RANGE = (10_000, 99_999)
# With a transaction log ids are unique: five digits up to this many rows (the
# range is then at least twice the rows), else 10_000..max(99_999, SPREAD x rows).
UNIQUE_ID_FIVE_DIGIT_MAX_ROWS = 45_000
UNIQUE_ID_SPREAD = 10
# SeedSequence spawn key of the unique-id stream (orders use their own key).
UNIQUE_ID_STREAM = 1
ID_PERMUTATION_ROUNDS = 4
AGE_RANGE = (18, 80)
AGE_BETA = (2.0, 3.0)
GENDER_WEIGHTS = {"Female": 0.49, "Male": 0.47, "Non-binary": 0.025, "Prefer not to say": 0.015}
COUNTRY_WEIGHTS = {
    "United States of America": 30.0,
    "United Kingdom": 8.0,
    "Canada": 6.0,
    "Australia": 5.0,
    "Germany": 5.0,
    "India": 5.0,
    "France": 4.0,
}
CITY_POOL_DRAWS = 3_000
CITY_ZIPF_OFFSET = 10
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
EMAIL_NUMBER_RANGE = (1, 999)

INCOME_MEDIAN = 55_000.0
INCOME_LOG_SIGMA = 0.6
INCOME_AGE_SLOPE = 0.012
INCOME_AGE_PIVOT, INCOME_AGE_PLATEAU = 42, 60

CREDIT_RANGE = (300, 850)
CREDIT_MEAN = 680.0
CREDIT_PER_INCOME_SD = 40.0
CREDIT_PER_YEAR_OF_AGE = 1.2
CREDIT_NOISE_SD = 60.0

SUBSCRIPTION_BASE_RATE = 0.27
SUBSCRIPTION_PER_INCOME_SD = 0.35
MARKETING_OPT_IN_RATE = 0.60

CATEGORY_WEIGHTS = {
    "Electronics": 0.16,
    "Clothing": 0.20,
    "Home & Garden": 0.12,
    "Beauty": 0.11,
    "Sports": 0.10,
    "Books": 0.09,
    "Toys": 0.08,
    "Grocery": 0.14,
}
CATEGORY_AOV_MEDIAN = {
    "Electronics": 140.0,
    "Clothing": 60.0,
    "Home & Garden": 80.0,
    "Beauty": 40.0,
    "Sports": 70.0,
    "Books": 28.0,
    "Toys": 45.0,
    "Grocery": 50.0,
}
AOV_LOG_SIGMA = 0.45
AOV_PER_INCOME_SD = 0.15
AOV_MINIMUM = 1.0
PREMIUM_AOV_FACTOR = 1.10
EXTRA_COST_MAX = 0.4

DEVICE_MOBILE_AT_18 = 0.75
DEVICE_MOBILE_DROP_PER_YEAR = 0.006
DEVICE_TABLET_SHARE = 0.10

FIRST_PURCHASE_SKEW = 0.7
REPEAT_ORDERS_PER_YEAR = 1.5
REPEAT_ORDERS_TENURE_OFFSET_YEARS = 0.25
REPEAT_ORDERS_GAMMA_SHAPE = 0.5
PREMIUM_ORDERS_FACTOR = 1.5

LOYALTY_POINTS_PER_DOLLAR = 1.0
PREMIUM_LOYALTY_POINTS_PER_DOLLAR = 1.5
LOYALTY_LOG_NOISE_SD = 0.1

CHURN_INTERCEPT = -1.6
CHURN_PER_YEAR_SINCE_PURCHASE = 1.5
CHURN_PREMIUM_SHIFT = -0.6
CHURN_NOISE_SD = 0.35

TICKETS_BASE_RATE = 0.4
TICKETS_PER_LOG_ORDER = 0.35

BOOLEAN_TEXT = ("True", "False")
DAYS_PER_YEAR = 365.25


def generate_customers(
    rows: int = 100_000,
    seed: int = 42,
    as_of: date | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Return `rows` synthetic customers as a DataFrame in schema column order.

    Dtypes: strings ``str``, integers ``int64``, floats ``float64``, dates
    ``datetime64[us]`` (midnight) and booleans ``bool``, matching what
    ``pandas.read_csv(..., parse_dates=<date columns>)`` gives for the CSV
    (read ``customer_id`` with ``dtype=str``). `progress`, if given, gets one
    message per chunk of CHUNK_ROWS rows, e.g. ``"500,000/10,000,000 rows"``.
    """
    table = pa.concat_tables(_generate_chunks(rows, seed, as_of, progress))
    frame = table.to_pandas(date_as_object=False)
    for field in metadata()["fields"]:
        if field["type"] == "date":
            frame[field["name"]] = frame[field["name"]].astype("datetime64[us]")
    return frame


def write_customers(
    out_csv: Path,
    rows: int = 100_000,
    seed: int = 42,
    as_of: date | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    transactions: Path | None = None,
) -> Path:
    """Write the customer CSV and its ``<stem>_metadata.json`` atomically; return the CSV path.

    The CSV is comma-separated with a header, ``\\n`` line endings and no
    quoting; dates are ISO ``YYYY-MM-DD``, booleans ``True``/``False`` and
    floats use the shortest text that reads back to the same number.
    `progress` is called as in :func:`generate_customers`.

    With `transactions`, also write the orders log there (``.csv``: one CSV,
    ``.parquet``: one Parquet file, no suffix: a folder of Parquet part files,
    one per chunk), give customers unique ids, and report ``"<n> orders"`` to
    `progress` after each chunk. All outputs appear only if the whole run
    succeeds; an unusable log path raises :class:`SegmentationError` before
    anything is written.
    """
    out_csv = Path(out_csv)
    as_of = _resolve_as_of(as_of)
    metadata_path = out_csv.with_name(f"{out_csv.stem}_metadata.json")
    if transactions is not None:
        _check_log_target(Path(transactions), (out_csv, metadata_path))
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        # all files go in place together, once everything is written: the stack closes in reverse order
        csv_tmp = stack.enter_context(atomic.replacing(out_csv))
        metadata_tmp = stack.enter_context(atomic.replacing(metadata_path))
        chunks = _generate_chunks(rows, seed, as_of, progress, unique_ids=transactions is not None)
        if transactions is not None:
            log = _open_orders_log(stack, Path(transactions))
            chunks = _with_orders_logged(chunks, log, transactions_log.orders_rng(seed), progress)
        _write_csv(csv_tmp, chunks)
        metadata_tmp.write_text(
            _metadata_json(rows, seed, as_of, transactions=transactions is not None), encoding="utf-8"
        )
    return out_csv


def generation_notes(as_of: date | None = None, *, transactions: bool = False) -> dict:
    """Describe, in plain sentences, every distribution and correlation the generator uses.

    With `transactions`, describe the unique customer ids of a run that writes
    a transaction log, and add a ``transactions`` section about the log.
    """
    as_of = _resolve_as_of(as_of)
    low_id, high_id = CUSTOMER_ID_RANGE
    low_age, high_age = AGE_RANGE
    low_credit, high_credit = CREDIT_RANGE
    boosted = ", ".join(f"{name} x{weight:g}" for name, weight in COUNTRY_WEIGHTS.items())
    notes = {
        "generator": "segmentation.synthetic.generate",
        "as_of": as_of.isoformat(),
        "randomness": (
            "All values come from one numpy.random.default_rng(seed) stream, consumed in "
            f"chunks of {CHUNK_ROWS:,} rows; Faker (seeded with the same seed) only builds "
            "the city vocabulary. The same rows, seed and as_of give byte-identical files."
        ),
        "columns": {
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
            "subscription": (
                f"Premium subscription with probability logistic(logit({SUBSCRIPTION_BASE_RATE}) + "
                f"{SUBSCRIPTION_PER_INCOME_SD} x income z-score), about "
                f"{SUBSCRIPTION_BASE_RATE:.0%} overall and more likely at higher incomes."
            ),
            "marketing_opt_in": (
                f"True with probability {MARKETING_OPT_IN_RATE:.0%}, independent of everything else."
            ),
            "support_tickets": (
                f"Poisson with mean {TICKETS_BASE_RATE} + {TICKETS_PER_LOG_ORDER} x ln(orders), so "
                "customers with more orders open a few more tickets."
            ),
        },
        "orders": (
            "The number of orders (not a column) is 1 + Poisson(rate), rate = "
            f"{REPEAT_ORDERS_PER_YEAR} x (years since first purchase + "
            f"{REPEAT_ORDERS_TENURE_OFFSET_YEARS}) x Gamma(shape {REPEAT_ORDERS_GAMMA_SHAPE}, mean 1) "
            f"x {PREMIUM_ORDERS_FACTOR:g} for subscribers: at least 1, with a long tail."
        ),
        "correlations": [
            "Income rises with age up to 60; credit_score rises with income and age.",
            "Subscribers are more common at higher incomes, place more orders, have a higher "
            "avg_order_value, earn loyalty points faster and have lower churn_risk.",
            "Customers with more orders bought more recently (negative correlation between "
            "orders and days since last purchase) and open more support tickets.",
            "Longer-standing customers have more orders.",
            "total_spent is avg_order_value times orders; loyalty_points follow total_spent.",
            "churn_risk rises with days since the last purchase.",
            "Older customers shop on desktops more, younger on mobiles.",
        ],
        "csv_format": (
            "Comma-separated, header row, '\\n' line endings, no quoting (no value contains a "
            "comma, quote or newline); dates YYYY-MM-DD; booleans True/False; floats in the "
            "shortest form that reads back exactly (e.g. 120.5, 100, 0.03)."
        ),
    }
    if transactions:
        notes["columns"]["customer_id"] = (
            f"Unique: drawn WITHOUT replacement from {low_id}-{high_id} when rows <= "
            f"{UNIQUE_ID_FIVE_DIGIT_MAX_ROWS:,}, else from {low_id} to max({high_id}, "
            f"{UNIQUE_ID_SPREAD} x rows), as a seeded permutation of that range (a "
            f"{ID_PERMUTATION_ROUNDS}-round Feistel network keyed from SeedSequence(seed, "
            f"spawn_key=({UNIQUE_ID_STREAM},))), so orders join to exactly one customer. Every "
            "other column is the same as in a run without a transaction log."
        )
        notes["transactions"] = transactions_log.generation_notes()
    return notes


@dataclass(frozen=True)
class _Vocabulary:
    """Seeded pools of names, cities and countries with their sampling probabilities."""

    first_names: pa.Array
    first_names_email: pa.Array
    female_probabilities: np.ndarray
    male_probabilities: np.ndarray
    last_names: pa.Array
    last_names_email: pa.Array
    last_probabilities: np.ndarray
    cities: pa.Array
    city_probabilities: np.ndarray
    countries: pa.Array
    country_probabilities: np.ndarray


def _build_vocabulary(seed: int) -> _Vocabulary:
    """Return the name, city and country pools for `seed`."""
    female = UsPersonProvider.first_names_female
    male = UsPersonProvider.first_names_male
    last = UsPersonProvider.last_names
    first_names = [*female, *male]
    faker = Faker("en_US")
    faker.seed_instance(seed)
    cities = _csv_safe(dict.fromkeys(faker.city() for _ in range(CITY_POOL_DRAWS)))
    countries = _csv_safe(dict.fromkeys(EnglishAddressProvider.countries))
    return _Vocabulary(
        first_names=pa.array(first_names),
        first_names_email=pa.array([_email_part(name) for name in first_names]),
        female_probabilities=_normalised(list(female.values())),
        male_probabilities=_normalised(list(male.values())),
        last_names=pa.array(list(last)),
        last_names_email=pa.array([_email_part(name) for name in last]),
        last_probabilities=_normalised(list(last.values())),
        cities=pa.array(cities),
        city_probabilities=_normalised(1.0 / (np.arange(len(cities)) + CITY_ZIPF_OFFSET)),
        countries=pa.array(countries),
        country_probabilities=_normalised([COUNTRY_WEIGHTS.get(name, 1.0) for name in countries]),
    )


def _generate_chunks(
    rows: int,
    seed: int,
    as_of: date | None,
    progress: Callable[[str], None] | None,
    *,
    unique_ids: bool = False,
) -> Iterator[pa.Table]:
    """Yield the customers as Arrow tables of at most CHUNK_ROWS rows, in order.

    With `unique_ids`, customer ids are unique (see :class:`_IdPermutation`).
    """
    if rows < 0:
        raise SegmentationError(f"rows must be 0 or more, got {rows}")
    as_of = _resolve_as_of(as_of)
    rng = np.random.default_rng(seed)
    vocabulary = _build_vocabulary(seed)
    names = field_names()
    permutation = _IdPermutation.seeded(rows, seed) if unique_ids else None
    # max(rows, 1): an empty request still yields one empty chunk, so the schema is known.
    for start in range(0, max(rows, 1), CHUNK_ROWS):
        size = min(CHUNK_ROWS, rows - start)
        columns = _draw_customers(rng, size, vocabulary, as_of)
        if permutation is not None:
            # Swapped in after the draw, so the main stream and every other column stay as they are.
            columns["customer_id"] = permutation.customer_ids(start, size)
        yield pa.table({name: columns[name] for name in names})
        if progress is not None:
            progress(f"{start + size:,}/{rows:,} rows")


@dataclass(frozen=True)
class _IdPermutation:
    """A seeded bijection of the unique-id range: row i gets id low + permute(i).

    A balanced Feistel network on 2 x half_bits bits is a permutation of
    0..2^(2 x half_bits) - 1; re-applying it to values outside the range (cycle
    walking) makes it a permutation of 0..span - 1. Any rows of ids are computed
    on their own, so memory stays per chunk (a sample without replacement from a
    1e8 range would otherwise need the whole range in memory).
    """

    low: int
    span: int
    half_bits: int
    keys: tuple[int, ...]

    @classmethod
    def seeded(cls, rows: int, seed: int) -> _IdPermutation:
        """Return the permutation for a `rows`-row, `seed` run."""
        low, high = _unique_id_range(rows)
        span = high - low + 1
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(UNIQUE_ID_STREAM,)))
        keys = rng.integers(0, 2**64, size=ID_PERMUTATION_ROUNDS, dtype=np.uint64)
        half_bits = ((span - 1).bit_length() + 1) // 2
        return cls(low, span, half_bits, tuple(int(key) for key in keys))

    def customer_ids(self, start: int, size: int) -> pa.Array:
        """Return the text ids of rows start .. start + size - 1."""
        value = self._encrypt(np.arange(start, start + size, dtype=np.uint64))
        outside = np.flatnonzero(value >= self.span)
        while outside.size:
            value[outside] = self._encrypt(value[outside])
            outside = outside[value[outside] >= self.span]
        return pc.cast(pa.array(value.astype(np.int64) + self.low), pa.string())

    def _encrypt(self, value: np.ndarray) -> np.ndarray:
        """Apply the Feistel rounds to uint64 values below 2^(2 x half_bits)."""
        shift, mask = np.uint64(self.half_bits), np.uint64((1 << self.half_bits) - 1)
        left, right = value >> shift, value & mask
        for key in self.keys:
            left, right = right, left ^ (_mix64(right ^ np.uint64(key)) & mask)
        return (left << shift) | right


def _unique_id_range(rows: int) -> tuple[int, int]:
    """Return the inclusive id range unique ids for `rows` customers are drawn from."""
    low, high = CUSTOMER_ID_RANGE
    if rows <= UNIQUE_ID_FIVE_DIGIT_MAX_ROWS:
        return low, high
    return low, max(high, UNIQUE_ID_SPREAD * rows)


def _mix64(value: np.ndarray) -> np.ndarray:
    """Return the splitmix64 finaliser of uint64 values (wrapping arithmetic), a cheap strong mix."""
    value = (value ^ (value >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    value = (value ^ (value >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return value ^ (value >> np.uint64(31))


def _draw_customers(rng: np.random.Generator, n: int, vocabulary: _Vocabulary, as_of: date) -> dict:
    """Return one chunk of `n` customers as a dict of column name to array.

    The dict also holds internal drivers (e.g. ``income_z``) that are not columns.
    """
    people = _draw_people(rng, n, vocabulary)
    finances = _draw_finances(rng, people["age"])
    shopping = _draw_shopping(rng, n, as_of, people["age"], finances)
    return {**people, **finances, **shopping}


def _draw_people(rng: np.random.Generator, n: int, vocabulary: _Vocabulary) -> dict:
    """Draw identity columns: id, name, email, age, gender, city and country."""
    low_id, high_id = CUSTOMER_ID_RANGE
    customer_id = rng.integers(low_id, high_id, size=n, endpoint=True)
    low_age, high_age = AGE_RANGE
    age = low_age + np.floor((high_age - low_age + 1) * rng.beta(*AGE_BETA, size=n)).astype(np.int64)
    genders = list(GENDER_WEIGHTS)
    gender = rng.choice(len(genders), size=n, p=_normalised(list(GENDER_WEIGHTS.values())))
    first = _draw_first_name_indices(rng, gender, genders, vocabulary)
    last = rng.choice(len(vocabulary.last_names), size=n, p=vocabulary.last_probabilities)
    email_number = rng.integers(*EMAIL_NUMBER_RANGE, size=n, endpoint=True)
    domain = rng.integers(0, len(EMAIL_DOMAINS), size=n)
    city = rng.choice(len(vocabulary.cities), size=n, p=vocabulary.city_probabilities)
    country = rng.choice(len(vocabulary.countries), size=n, p=vocabulary.country_probabilities)
    email = pc.binary_join_element_wise(
        vocabulary.first_names_email.take(first),
        ".",
        vocabulary.last_names_email.take(last),
        pc.cast(pa.array(email_number), pa.string()),
        "@",
        pa.array(EMAIL_DOMAINS).take(domain),
        "",
    )
    return {
        "customer_id": pc.cast(pa.array(customer_id), pa.string()),
        "name": pc.binary_join_element_wise(
            vocabulary.first_names.take(first), vocabulary.last_names.take(last), " "
        ),
        "email": email,
        "age": age,
        "gender": pa.array(genders).take(gender),
        "city": vocabulary.cities.take(city),
        "country": vocabulary.countries.take(country),
    }


def _draw_first_name_indices(
    rng: np.random.Generator, gender: np.ndarray, genders: list[str], vocabulary: _Vocabulary
) -> np.ndarray:
    """Draw first-name pool indices matching each gender (either list for other genders)."""
    n = len(gender)
    female_count = len(vocabulary.female_probabilities)
    female = rng.choice(female_count, size=n, p=vocabulary.female_probabilities)
    male_count = len(vocabulary.male_probabilities)
    male = female_count + rng.choice(male_count, size=n, p=vocabulary.male_probabilities)
    coin = rng.random(n) < 0.5
    is_female, is_male = gender == genders.index("Female"), gender == genders.index("Male")
    use_female = is_female | (~is_male & coin)
    return np.where(use_female, female, male)


def _draw_finances(rng: np.random.Generator, age: np.ndarray) -> dict:
    """Draw income, credit score, subscription and marketing opt-in for customers of `age`."""
    n = len(age)
    age_effect = INCOME_AGE_SLOPE * (np.minimum(age, INCOME_AGE_PLATEAU) - INCOME_AGE_PIVOT)
    log_income = math.log(INCOME_MEDIAN) + age_effect + rng.normal(0.0, INCOME_LOG_SIGMA, size=n)
    income_z = (log_income - math.log(INCOME_MEDIAN)) / INCOME_LOG_SIGMA
    credit = (
        CREDIT_MEAN
        + CREDIT_PER_INCOME_SD * income_z
        + CREDIT_PER_YEAR_OF_AGE * (age - INCOME_AGE_PIVOT)
        + rng.normal(0.0, CREDIT_NOISE_SD, size=n)
    )
    subscription_logit = _logit(SUBSCRIPTION_BASE_RATE) + SUBSCRIPTION_PER_INCOME_SD * income_z
    return {
        "income": np.round(np.exp(log_income), 2),
        "income_z": income_z,
        "credit_score": np.clip(np.round(credit), *CREDIT_RANGE).astype(np.int64),
        "subscription": rng.random(n) < _sigmoid(subscription_logit),
        "marketing_opt_in": rng.random(n) < MARKETING_OPT_IN_RATE,
    }


def _draw_shopping(
    rng: np.random.Generator, n: int, as_of: date, age: np.ndarray, finances: dict
) -> dict:
    """Draw purchase history, spend, loyalty, churn, category, device and tickets."""
    premium = finances["subscription"]
    as_of_day = np.datetime64(as_of, "D")
    span_days = (as_of - FIRST_PURCHASE_START).days
    first_offset = np.floor((span_days + 1) * rng.random(n) ** FIRST_PURCHASE_SKEW).astype(np.int64)
    first_purchase = np.datetime64(FIRST_PURCHASE_START, "D") + first_offset
    tenure_days = (as_of_day - first_purchase).astype(np.int64)
    orders = _draw_orders(rng, tenure_days, premium)
    days_since_last = _draw_days_since_last_purchase(rng, tenure_days, orders)
    categories = list(CATEGORY_WEIGHTS)
    category = rng.choice(len(categories), size=n, p=_normalised(list(CATEGORY_WEIGHTS.values())))
    avg_order_value = _draw_avg_order_value(rng, category, categories, finances["income_z"], premium)
    total_spent = np.round(avg_order_value * (orders + rng.uniform(0.0, EXTRA_COST_MAX, size=n)), 2)
    return {
        "loyalty_points": _draw_loyalty_points(rng, total_spent, premium),
        "first_purchase_date": first_purchase,
        "last_purchase_date": as_of_day - days_since_last,
        "total_spent": total_spent,
        "avg_order_value": avg_order_value,
        "favorite_category": pa.array(categories).take(category),
        "device_type": _draw_device_type(rng, age),
        "churn_risk": _draw_churn_risk(rng, days_since_last, premium),
        "support_tickets": rng.poisson(TICKETS_BASE_RATE + TICKETS_PER_LOG_ORDER * np.log(orders)),
    }


def _draw_orders(rng: np.random.Generator, tenure_days: np.ndarray, premium: np.ndarray) -> np.ndarray:
    """Draw lifetime order counts (>= 1, long-tailed, higher for long tenure and subscribers)."""
    tenure_years = tenure_days / DAYS_PER_YEAR + REPEAT_ORDERS_TENURE_OFFSET_YEARS
    appetite = rng.gamma(REPEAT_ORDERS_GAMMA_SHAPE, 1.0 / REPEAT_ORDERS_GAMMA_SHAPE, size=len(tenure_days))
    rate = REPEAT_ORDERS_PER_YEAR * tenure_years * appetite * np.where(premium, PREMIUM_ORDERS_FACTOR, 1.0)
    return 1 + rng.poisson(rate)


def _draw_days_since_last_purchase(
    rng: np.random.Generator, tenure_days: np.ndarray, orders: np.ndarray
) -> np.ndarray:
    """Draw days between the last purchase and as_of, never more than the tenure."""
    fraction = rng.beta(1.0, 0.5 + 0.5 * orders)
    # A single order means the last purchase is the first one.
    fraction = np.where(orders == 1, 1.0, fraction)
    return np.floor(tenure_days * fraction).astype(np.int64)


def _draw_avg_order_value(
    rng: np.random.Generator,
    category: np.ndarray,
    categories: list[str],
    income_z: np.ndarray,
    premium: np.ndarray,
) -> np.ndarray:
    """Draw average order values in USD, by category, income and subscription."""
    median = np.array([CATEGORY_AOV_MEDIAN[name] for name in categories])[category]
    log_shift = AOV_PER_INCOME_SD * income_z + rng.normal(0.0, AOV_LOG_SIGMA, size=len(category))
    value = median * np.exp(log_shift) * np.where(premium, PREMIUM_AOV_FACTOR, 1.0)
    return np.maximum(np.round(value, 2), AOV_MINIMUM)


def _draw_loyalty_points(
    rng: np.random.Generator, total_spent: np.ndarray, premium: np.ndarray
) -> np.ndarray:
    """Draw loyalty points that track lifetime spend."""
    rate = np.where(premium, PREMIUM_LOYALTY_POINTS_PER_DOLLAR, LOYALTY_POINTS_PER_DOLLAR)
    noise = np.exp(rng.normal(0.0, LOYALTY_LOG_NOISE_SD, size=len(total_spent)))
    return np.floor(total_spent * rate * noise).astype(np.int64)


def _draw_device_type(rng: np.random.Generator, age: np.ndarray) -> pa.Array:
    """Draw the primary shopping device, with mobile share falling with age."""
    mobile_share = DEVICE_MOBILE_AT_18 - DEVICE_MOBILE_DROP_PER_YEAR * (age - AGE_RANGE[0])
    u = rng.random(len(age))
    device = np.where(u < mobile_share, 0, np.where(u < mobile_share + DEVICE_TABLET_SHARE, 1, 2))
    return pa.array(["Mobile", "Tablet", "Desktop"]).take(device)


def _draw_churn_risk(
    rng: np.random.Generator, days_since_last: np.ndarray, premium: np.ndarray
) -> np.ndarray:
    """Draw churn probabilities that rise with time since the last purchase."""
    logit = (
        CHURN_INTERCEPT
        + CHURN_PER_YEAR_SINCE_PURCHASE * days_since_last / DAYS_PER_YEAR
        + np.where(premium, CHURN_PREMIUM_SHIFT, 0.0)
        + rng.normal(0.0, CHURN_NOISE_SD, size=len(days_since_last))
    )
    return np.round(_sigmoid(logit), 3)


def _write_csv(path: Path, chunks: Iterator[pa.Table]) -> None:
    """Write the chunks as one CSV (header, no quoting, booleans as True/False)."""
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none", batch_size=65_536)
    with pa.OSFile(str(path), "wb") as sink:
        writer = None
        for chunk in chunks:
            chunk = _with_boolean_text(chunk)
            if writer is None:
                # Arrow always quotes header names; the plain header is written by hand.
                sink.write((",".join(chunk.column_names) + "\n").encode())
                writer = pa_csv.CSVWriter(sink, chunk.schema, write_options=options)
            writer.write_table(chunk)
        writer.close()


def _with_boolean_text(table: pa.Table) -> pa.Table:
    """Return `table` with boolean columns as the strings True/False."""
    true_text, false_text = BOOLEAN_TEXT
    for index, field in enumerate(table.schema):
        if pa.types.is_boolean(field.type):
            text = pc.if_else(table.column(index), true_text, false_text)
            table = table.set_column(index, field.name, text)
    return table


def _with_orders_logged(
    chunks: Iterator[pa.Table],
    log: transactions_log.OrdersWriter,
    rng: np.random.Generator,
    progress: Callable[[str], None] | None,
) -> Iterator[pa.Table]:
    """Yield the customer chunks unchanged, first writing each chunk's orders to `log`."""
    written = 0
    for chunk in chunks:
        batches = transactions_log.draw_orders_batches(chunk, rng, transactions_log.FIRST_ORDER_ID + written)
        written += log.write_chunk(batches)
        if progress is not None:
            progress(f"{written:,} orders")
        yield chunk


def _check_log_target(path: Path, customer_files: tuple[Path, ...]) -> None:
    """Raise SegmentationError if `path` cannot take the transaction log; write nothing."""
    layout = transactions_log.log_layout(path)
    if path.resolve() in {other.resolve() for other in customer_files}:
        raise SegmentationError(f"transaction log {path} would overwrite the customer file or its metadata")
    if layout == "parts":
        if path.exists() and not path.is_dir():
            raise SegmentationError(f"transaction log {path}: a file is in the way of the part-file folder")
        if path.is_dir() and not _is_parts_folder(path):
            raise SegmentationError(
                f"transaction log {path}: that folder holds other files than {transactions_log.PART_NAME}; "
                "refusing to replace it"
            )
    elif path.is_dir():
        raise SegmentationError(f"transaction log {path}: a folder is in the way of the {layout} file")


def _is_parts_folder(path: Path) -> bool:
    """Return whether `path` holds nothing but Parquet part files (so it may be replaced)."""
    return all(child.is_file() and child.match("part-*.parquet") for child in path.iterdir())


def _open_orders_log(stack: ExitStack, path: Path) -> transactions_log.OrdersWriter:
    """Open an orders writer on a temporary beside `path` that `stack` puts in place on success."""
    layout = transactions_log.log_layout(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = stack.enter_context(atomic.replacing(path))
        if layout == "parts":
            temporary.mkdir()
        return stack.enter_context(transactions_log.OrdersWriter(temporary, layout))
    except OSError as error:
        raise SegmentationError(f"cannot write the transaction log {path}: {error}") from error


def _metadata_json(rows: int, seed: int, as_of: date, *, transactions: bool = False) -> str:
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


def _resolve_as_of(as_of: date | None) -> date:
    """Return the as-of date, defaulting to DEFAULT_AS_OF, after checking it is usable."""
    if as_of is None:
        return DEFAULT_AS_OF
    as_of = date(as_of.year, as_of.month, as_of.day)
    if as_of <= FIRST_PURCHASE_START:
        raise SegmentationError(
            f"as_of must be after {FIRST_PURCHASE_START.isoformat()}, when first purchases start; "
            f"got {as_of.isoformat()}"
        )
    return as_of


def _csv_safe(values: Iterable[str]) -> list[str]:
    """Return the values that can be written to CSV without quoting."""
    return [value for value in values if not any(char in value for char in ',"\r\n')]


def _email_part(name: str) -> str:
    """Return `name` as a lower-case ASCII-letters-only email local-part piece."""
    return "".join(char for char in name.lower() if "a" <= char <= "z")


def _format_weights(weights: dict[str, float]) -> str:
    """Return category weights as readable percentages."""
    return ", ".join(f"{name} {weight:.1%}" for name, weight in weights.items())


def _normalised(weights: Iterable[float] | np.ndarray) -> np.ndarray:
    """Return `weights` scaled to sum to 1."""
    array = np.asarray(weights, dtype=float)
    return array / array.sum()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Return the logistic function of `x`."""
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    """Return the log-odds of probability `p`."""
    return math.log(p / (1.0 - p))
