"""A count sketch: large matrix values compared through a fixed number of signed sums.

A function with millions of output entries, probed along a few random directions,
would need a copy of its output per direction and step to be kept and compared.
Instead every entry is hashed once, at random, to one of `BUCKETS` sums with a
random sign, and only those sums are kept. The sketch is linear, and for any
fixed vector e the squared norm of its sketch has mean ||e||^2 and a relative
spread of about sqrt(2 / BUCKETS); unlike a projection on a few random
directions, a single wrong entry is never lost (it lands whole in its bucket).

Values are summed in chunks (the bucket codes are bytes, widened a chunk at a
time), so the sketch costs one byte per entry and no full-size temporaries.
"""

from __future__ import annotations

import numpy as np

BUCKETS = 128  # two codes per bucket (one per sign) fit a byte
CHUNK = 1 << 20  # entries summed at a time


class CountSketch:
    """Sums of the entries of arrays of one shape, each entry in a random bucket with a random sign."""

    def __init__(self, shape: tuple[int, ...], rng: np.random.Generator) -> None:
        self.shape = shape
        self.size = int(np.prod(shape))
        # code = 2 * bucket + (1 if the sign is negative)
        self.codes = rng.integers(0, 2 * BUCKETS, size=self.size, dtype=np.uint8)

    @property
    def terms(self) -> int:
        """Entries summed per bucket, on average (their rounding adds up)."""
        return max(1, self.size // BUCKETS)

    def __call__(self, a: np.ndarray, minus: np.ndarray | None = None) -> np.ndarray:
        """The sketch of `a` (or of `a - minus`, formed a chunk at a time)."""
        a = self._flat(a)
        b = None if minus is None else self._flat(minus)
        if np.iscomplexobj(a) or (b is not None and np.iscomplexobj(b)):
            imag = self._signed(np.imag(a), None if b is None else np.imag(b))
            return self._signed(np.real(a), None if b is None else np.real(b)) + 1j * imag
        return self._signed(a, b)

    def quadrature(self, a: np.ndarray) -> np.ndarray:
        """Per bucket, sqrt(sum of a^2): how independent errors of size |a| add up in it."""
        sums = self._sums(self._flat(np.asarray(a, dtype=float)) ** 2, None)
        return np.asarray(np.sqrt(sums[0::2] + sums[1::2]))

    def _flat(self, a: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        if a.size != self.size:
            raise ValueError(f"sketch of {self.size} entries applied to an array of {a.size}")
        return np.ravel(a)  # a view for the C-ordered values f and claims give

    def _signed(self, a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        sums = self._sums(a, b)
        return np.asarray(sums[0::2] - sums[1::2])

    def _sums(self, a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        out = np.zeros(2 * BUCKETS)
        for start in range(0, self.size, CHUNK):
            part = slice(start, start + CHUNK)
            weights = a[part] if b is None else a[part] - b[part]
            out += np.bincount(self.codes[part], weights=weights, minlength=2 * BUCKETS)
        return out
