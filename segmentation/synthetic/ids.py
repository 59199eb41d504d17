"""Customer ids: the five-digit range, and the unique ids of a run that writes an orders log, as a seeded
permutation of a range wide enough for the rows (each chunk's ids are computed on their own)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CUSTOMER_ID_RANGE = (10_000, 99_999)
# With a transaction log ids are unique: five digits up to this many rows (the
# range is then at least twice the rows), else 10_000..max(99_999, SPREAD x rows).
UNIQUE_ID_FIVE_DIGIT_MAX_ROWS = 45_000
UNIQUE_ID_SPREAD = 10
# SeedSequence spawn key of the unique-id stream (orders use their own key).
UNIQUE_ID_STREAM = 1
ID_PERMUTATION_ROUNDS = 4


@dataclass(frozen=True)
class IdPermutation:
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
    def seeded(cls, rows: int, seed: int) -> IdPermutation:
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
