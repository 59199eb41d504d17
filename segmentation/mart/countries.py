"""ISO 3166-1 alpha-3 codes for country names as customer files write them, legacy names included."""

from __future__ import annotations

import re
from functools import cache

import pycountry

# Names pycountry does not resolve (legacy or informal); "Korea" alone is taken to mean South Korea,
# "Netherlands Antilles" keeps its withdrawn code ANT (no current country covers it whole).
LEGACY_NAMES = {
    "Cape Verde": "CPV",
    "Cote d'Ivoire": "CIV",
    "Korea": "KOR",
    "Libyan Arab Jamahiriya": "LBY",
    "Micronesia": "FSM",
    "Netherlands Antilles": "ANT",
    "Palestinian Territory": "PSE",
    "Pitcairn Islands": "PCN",
    "Reunion": "REU",
    "Saint Barthelemy": "BLM",
    "Saint Helena": "SHN",
    "Saint Martin": "MAF",
    "Svalbard & Jan Mayen Islands": "SJM",
    "Swaziland": "SWZ",
    "Turkey": "TUR",
    "United States Virgin Islands": "VIR",
}


@cache
def iso3(name: str) -> str | None:
    """The alpha-3 code of a country name, or None when it names no country pycountry knows."""
    if name in LEGACY_NAMES:
        return LEGACY_NAMES[name]
    for candidate in (name, re.sub(r"\s*\(.*\)", "", name)):
        try:
            return pycountry.countries.lookup(candidate).alpha_3
        except LookupError:
            continue
    return None


def iso3_map(names: list[str]) -> dict[str, str | None]:
    """Codes for each distinct name."""
    return {n: iso3(n) for n in names}
