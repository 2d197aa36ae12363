"""Opacus's RDP accounting of the sampled Gaussian mechanism, vectorised with numpy.

Why not Opacus's own functions: ``opacus.accountants.analysis.rdp`` sums each order's
series one term at a time in Python (``_log_add`` / ``_log_sub``). With the 158 orders of
``RDP_ALPHAS`` and the sampling rates of small data (q = 0.05) one epsilon costs ~0.3 s of
CPU, and the noise search of one target epsilon evaluates ~12 of them: accounting was
over half of the privacy section's time on a 1,000-row dataset (issue 15). This module
evaluates the same terms (the same formulas and stopping rule, from Mironov et al. 2019,
section 3.3) as numpy arrays and sums them with ``scipy.special.logsumexp``; the
conversion RDP -> (epsilon, delta) and the noise search's bisection are Opacus's.
``tests/test_privacy_rdp.py`` checks the results against Opacus's ``RDPAccountant``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from scipy import special

_FIRST_TERMS = 64  # terms of the fractional orders' series evaluated at first (doubled until all have stopped)
_MAX_TERMS = 1 << 20  # far beyond any series that converges at sane q, sigma


def _log_a_int(q: float, sigma: float, alphas: np.ndarray) -> np.ndarray:
    """log A_alpha for integer orders: a finite binomial sum, one row per order."""
    i = np.arange(int(alphas.max()) + 1, dtype=np.float64)[None, :]
    a = alphas[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (np.log(special.binom(a, i)) + i * math.log(q) + (a - i) * math.log(1 - q) + (i * i - i) / (2 * sigma**2))
    s = np.where(i <= a, s, -np.inf)
    return special.logsumexp(s, axis=1)


def _log_erfc(x: np.ndarray) -> np.ndarray:
    return math.log(2) + special.log_ndtr(-x * 2**0.5)


def _series_terms(q: float, sigma: float, a: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, ...]:
    """Terms ``i`` (columns) of the fractional orders ``a`` (rows): log|term| of both halves and the sign."""
    z0 = sigma**2 * math.log(1 / q - 1) + 0.5
    coef = special.binom(a, i)
    log_coef = np.log(np.abs(coef))
    j = a - i
    log_t0 = log_coef + i * math.log(q) + j * math.log(1 - q)
    log_t1 = log_coef + j * math.log(q) + i * math.log(1 - q)
    log_e0 = math.log(0.5) + _log_erfc((i - z0) / (math.sqrt(2) * sigma))
    log_e1 = math.log(0.5) + _log_erfc((z0 - j) / (math.sqrt(2) * sigma))
    s0 = log_t0 + (i * i - i) / (2 * sigma**2) + log_e0
    s1 = log_t1 + (j * j - j) / (2 * sigma**2) + log_e1
    return s0, s1, np.where(coef > 0, 1.0, -1.0)


def _log_a_frac(q: float, sigma: float, alphas: np.ndarray) -> np.ndarray:
    """log A_alpha for fractional orders: Opacus's series, stopped at the first term below e^-30.

    Small orders need thousands of terms, large ones tens, so the terms come in growing
    chunks for the orders still running; each chunk's signed sum is kept in log space.
    """
    n_chunks = int(math.log2(_MAX_TERMS // _FIRST_TERMS)) + 1
    # Each chunk's signed partial sums (log magnitude, sign) per order; -inf = no chunk.
    P0, P1 = np.full((len(alphas), n_chunks), -np.inf), np.full((len(alphas), n_chunks), -np.inf)
    G0, G1 = np.ones_like(P0), np.ones_like(P1)
    active = np.arange(len(alphas))
    start, size = 0, _FIRST_TERMS
    for c in range(n_chunks):
        i = np.arange(start, start + size, dtype=np.float64)[None, :]
        s0, s1, sign = _series_terms(q, sigma, alphas[active][:, None], i)
        below = np.maximum(s0, s1) < -30
        done = below.any(axis=1)
        # Opacus's "do ... until": terms up to and including the first one below the bound count.
        keep = np.where(done, below.argmax(axis=1), size - 1)[:, None] >= np.arange(size)[None, :]
        P0[active, c], G0[active, c] = special.logsumexp(np.where(keep, s0, -np.inf), b=sign, axis=1, return_sign=True)
        P1[active, c], G1[active, c] = special.logsumexp(np.where(keep, s1, -np.inf), b=sign, axis=1, return_sign=True)
        active = active[~done]
        if not len(active):
            break
        start, size = start + size, size * 2
    else:
        raise ValueError(f"the RDP series did not converge in {_MAX_TERMS} terms (q = {q}, sigma = {sigma})")
    a0, sg0 = special.logsumexp(P0, b=G0, axis=1, return_sign=True)
    a1, sg1 = special.logsumexp(P1, b=G1, axis=1, return_sign=True)
    if (sg0 < 0).any() or (sg1 < 0).any():  # where Opacus's _log_sub raises
        raise ValueError("The result of subtraction must be non-negative.")
    return np.logaddexp(a0, a1)


@lru_cache(maxsize=256)
def _rdp_per_step(q: float, sigma: float, orders: tuple[float, ...]) -> np.ndarray:
    alphas = np.asarray(orders, dtype=np.float64)
    if q == 0:
        out = np.zeros_like(alphas)
    elif sigma == 0:
        out = np.full_like(alphas, np.inf)
    elif q == 1.0:
        out = alphas / (2 * sigma**2)
    else:
        out = np.full_like(alphas, np.inf)  # infinite orders stay infinite
        finite = np.isfinite(alphas)
        is_int = finite & (alphas == np.round(alphas))
        frac = finite & ~is_int
        log_a = np.empty_like(alphas)
        if is_int.any():
            log_a[is_int] = _log_a_int(q, sigma, alphas[is_int])
        if frac.any():
            log_a[frac] = _log_a_frac(q, sigma, alphas[frac])
        out[finite] = log_a[finite] / (alphas[finite] - 1)
    out.setflags(write=False)
    return out


def compute_rdp(*, q: float, noise_multiplier: float, steps: int, orders: Sequence[float]) -> np.ndarray:
    """RDP of ``steps`` compositions of the sampled Gaussian mechanism at each order (as Opacus's ``compute_rdp``)."""
    return _rdp_per_step(float(q), float(noise_multiplier), tuple(float(a) for a in orders)) * steps


def epsilon(history: Iterable[tuple[float, float, int]], *, delta: float, orders: Sequence[float]) -> float:
    """Epsilon of an Opacus accountant history ``[(noise_multiplier, sample_rate, steps), ...]``."""
    history = list(history)
    if not history:
        return 0.0
    rdp = sum(compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders) for sigma, q, steps in history)
    return privacy_spent(orders, rdp, delta)


def privacy_spent(orders: Sequence[float], rdp: np.ndarray, delta: float) -> float:
    """Opacus's ``get_privacy_spent`` (Balle et al. 2020, Theorem 21), its formula line for line.

    Restated rather than imported: any ``opacus`` import runs the package's ``__init__``, which
    pulls ``torch.distributed`` (1.2 s here), and the fused trainer's RDP path needs nothing else
    of Opacus. ``tests/test_privacy_rdp.py`` compares the two.
    """
    a = np.atleast_1d(np.asarray(orders, dtype=np.float64))
    eps = np.asarray(rdp, dtype=np.float64) - (np.log(delta) + np.log(a)) / (a - 1) + np.log((a - 1) / a)
    if np.isnan(eps).all():  # no privacy at all
        return math.inf
    return float(eps[np.nanargmin(eps)])


MAX_SIGMA = 1e6  # opacus.accountants.utils.MAX_SIGMA (not imported: see privacy_spent)


def noise_multiplier(*, target_epsilon: float, target_delta: float, sample_rate: float, epochs: int,
                     orders: Sequence[float], epsilon_tolerance: float = 0.01) -> float:
    """Opacus's ``get_noise_multiplier`` (the same doubling then bisection) on this module's epsilon."""
    steps = int(epochs / sample_rate)

    def eps_at(sigma: float) -> float:
        return epsilon([(sigma, sample_rate, steps)], delta=target_delta, orders=orders)

    eps_high, sigma_low, sigma_high = math.inf, 0.0, 10.0
    while eps_high > target_epsilon:
        sigma_high = 2 * sigma_high
        eps_high = eps_at(sigma_high)
        if sigma_high > MAX_SIGMA:
            raise ValueError("The privacy budget is too low.")
    while target_epsilon - eps_high > epsilon_tolerance:
        sigma = (sigma_low + sigma_high) / 2
        eps = eps_at(sigma)
        if eps < target_epsilon:
            sigma_high, eps_high = sigma, eps
        else:
            sigma_low = sigma
    return sigma_high
