"""Seeded, vectorised draws of synthetic customer rows, chunk by chunk, in schema column order.

All randomness comes from one ``numpy.random.default_rng(seed)`` stream; Faker is only used to build a seeded
vocabulary of city names. The constants below are the distributions' parameters; the metadata JSON describes them
in plain sentences (:mod:`segmentation.synthetic.notes`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker
from faker.providers.address.en import Provider as EnglishAddressProvider
from faker.providers.person.en_US import Provider as UsPersonProvider

from segmentation.config.schema import field_names
from segmentation.core.errors import SegmentationError
from segmentation.synthetic.ids import CUSTOMER_ID_RANGE, IdPermutation

DEFAULT_AS_OF = date(2026, 11, 1)
FIRST_PURCHASE_START = date(2018, 1, 1)
# Bounds memory: the CSV is written one chunk at a time.
CHUNK_ROWS = 500_000

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

DAYS_PER_YEAR = 365.25


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


def customer_chunks(
    rows: int,
    seed: int,
    as_of: date | None,
    progress: Callable[[str], None] | None,
    *,
    unique_ids: bool = False,
) -> Iterator[pa.Table]:
    """Yield the customers as Arrow tables of at most CHUNK_ROWS rows, in order.

    With `unique_ids`, customer ids are unique (see :class:`IdPermutation`).
    """
    if rows < 0:
        raise SegmentationError(f"rows must be 0 or more, got {rows}")
    as_of = resolve_as_of(as_of)
    rng = np.random.default_rng(seed)
    vocabulary = _build_vocabulary(seed)
    names = field_names()
    permutation = IdPermutation.seeded(rows, seed) if unique_ids else None
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


def resolve_as_of(as_of: date | None) -> date:
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
