"""Poisson(1) bootstrap weights addressed by (seed, row, replicate), for the every-row statistics.

numpy's generators draw sequentially; the streaming bootstrap needs a draw that is a pure
function of (seed, global row number, replicate), so that any partitioning gives the same
weights. Each draw is SplitMix64 (Steele et al. 2014; numpy seeds its own generators with it)
of a counter, turned into a Poisson(1) count by a table lookup.

Every temporary lives in two buffers allocated once per call. Dask's nanny starts workers
with ``MALLOC_TRIM_THRESHOLD_=65536``, which also stops glibc from raising its mmap threshold:
there, every fresh 800 kB temporary of the earlier version was a new mapping, page-faulted in
and given back, and a 500,000-row partition's weights took 4.0 s on a worker against 1.0 s in
a plain process (profiled 2026-12-03). In place, both take the same time.
"""

from __future__ import annotations

import numpy as np

# Poisson(1) cumulative probabilities up to 20 (the remaining mass is below 1e-19).
_POISSON_CDF = np.cumsum([np.exp(-1.0) / float(np.prod(np.arange(1, k + 1))) for k in range(21)])
_C0, _C1, _C2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 of ``x`` (a new array)."""
    z = x + _C0
    z ^= z >> _S30
    z *= _C1
    z ^= z >> _S27
    z *= _C2
    z ^= z >> _S31
    return z


def _splitmix64_into(z: np.ndarray, tmp: np.ndarray) -> None:
    """SplitMix64 of ``z`` in place, ``tmp`` a scratch array of its shape: the same bits as above."""
    z += _C0
    np.right_shift(z, _S30, out=tmp)
    z ^= tmp
    z *= _C1
    np.right_shift(z, _S27, out=tmp)
    z ^= tmp
    z *= _C2
    np.right_shift(z, _S31, out=tmp)
    z ^= tmp


_U53 = float(1 << 53)
# A draw is u = z / 2**53 for a 53-bit integer z, and Poisson(1) count k = #{cdf <= u}. As
# integers: cdf[k] <= z / 2**53 iff z >= ceil(cdf[k] * 2**53), which is exact (both sides are
# whole numbers below 2**53), so no float conversion of z is needed.
_Z_CUTS = np.ceil(_POISSON_CDF * _U53).astype(np.uint64)
_CACHE_ROWS = 512  # rows of weights drawn at once: their uint64 buffers (~0.8 MB each) stay in cache
_BUCKET_BITS = 16  # z's top bits index a table of the count at each bucket's lower end
_SHIFT = np.uint64(53 - _BUCKET_BITS)
_LOW = np.arange(1 << _BUCKET_BITS, dtype=np.uint64) << _SHIFT
_TABLE = np.searchsorted(_Z_CUTS, _LOW, side="right").astype(np.uint8)
# Buckets with a cut inside them (fewer than 22 of 65,536): their draws are compared exactly.
_MIXED = _TABLE != np.searchsorted(_Z_CUTS, _LOW + np.uint64((1 << (53 - _BUCKET_BITS)) - 1), side="right")


def poisson_weights(rows: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(len(rows), n_boot) Poisson(1) counts, each a pure function of (seed, row, replicate).

    The count is looked up from z's top 16 bits, and searched exactly only where a bucket
    holds a cut: the same counts as ``searchsorted`` over every draw. Rows go in chunks
    whose buffers stay in the CPU cache (4.7x faster than whole 65,536-row blocks)."""
    rows = np.asarray(rows).astype(np.uint64)
    out = np.empty((len(rows), n_boot), dtype=np.uint8)
    reps = np.arange(n_boot, dtype=np.uint64)[None, :]
    chunk = min(_CACHE_ROWS, len(rows))
    ctr, tmp = np.empty((chunk, n_boot), dtype=np.uint64), np.empty((chunk, n_boot), dtype=np.uint64)
    mixed = np.empty((chunk, n_boot), dtype=bool)
    with np.errstate(over="ignore"):
        key = _splitmix64(np.uint64(seed) * np.uint64(0x632BE59BD9B4E019) + np.uint64(1))
        for start in range(0, len(rows), _CACHE_ROWS):
            part = rows[start:start + _CACHE_ROWS]
            z, t = ctr[:len(part)], tmp[:len(part)]
            np.multiply(part[:, None], np.uint64(n_boot), out=z)
            z += reps
            z ^= key
            _splitmix64_into(z, t)
            z >>= np.uint64(11)
            _count_into(z, t, mixed[:len(part)], out[start:start + len(part)])
    return out


def _count_into(z: np.ndarray, tmp: np.ndarray, mixed: np.ndarray, out: np.ndarray) -> None:
    """``out`` = the Poisson(1) counts of the 53-bit integers ``z``; ``tmp`` and ``mixed`` are scratch."""
    np.right_shift(z, _SHIFT, out=tmp)
    bucket = tmp.view(np.int64)  # below 2**16: the same numbers as signed indices
    np.take(_TABLE, bucket, out=out, mode="clip")  # "clip": no bounds pass (every index is valid)
    np.take(_MIXED, bucket, out=mixed, mode="clip")
    exact = np.flatnonzero(mixed)
    if len(exact):
        out.reshape(-1)[exact] = np.searchsorted(_Z_CUTS, z.reshape(-1)[exact], side="right")


def poisson_count(z: np.ndarray) -> np.ndarray:
    """Poisson(1) counts #{cdf <= z / 2**53} of 53-bit integers ``z`` (uint64, any shape), as uint8."""
    z = np.ascontiguousarray(z, dtype=np.uint64)
    out = np.empty(z.shape, dtype=np.uint8)
    _count_into(z, np.empty_like(z), np.empty(z.shape, dtype=bool), out)
    return out


__all__ = ["poisson_count", "poisson_weights"]
