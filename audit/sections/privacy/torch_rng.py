"""The draws of PyTorch's CPU generator that the fused trainer needs, in numpy, without importing torch.

The fused trainer (fused.py) trains in numpy but starts every network from the weights the
Opacus trainer's ``torch.nn`` network gets (``dp_training._build``: PyTorch's default
initialisation drawn from ``torch.Generator().manual_seed(seed)``), and its non-private run
visits the rows in the order of ``DataLoader(shuffle=True)``. Those were the only reasons the
privacy section imported torch by default: 1.0 s of CPU in its process, a fifth of German
credit's whole audit. No library exposes PyTorch's generator without PyTorch, so the few
draws are reproduced here from their definitions in ATen (pinned torch 2.13.0):

- the generator is the standard MT19937 seeded with ``init_genrand(seed mod 2**32)``
  (``at::mt19937``); numpy's ``MT19937`` bit generator yields the same 32-bit words once
  given that state;
- ``uniform_(a, b)`` on float32 takes one word per element, in memory order: ``x = (w & (2**24
  - 1)) * 2**-24`` in float32, then ``x * (b - a) + a``, which ATen's AVX2 kernel evaluates
  with one fused multiply-add (a single rounding); ``kaiming_uniform_`` is ``uniform_(-bound,
  bound)`` with torch.nn.init's bound;
- ``randperm(n)`` (n < 2**32 / 20) is a Fisher-Yates shuffle, ``z = word % (n - i)`` for
  ``i = 0 .. n-2``; an int64 ``random_()`` takes two words.

``tests/test_privacy_torch_rng.py`` checks every one against torch itself, bit for bit; the
Opacus trainer (``trainer = "opacus"``) still draws through torch.
"""

from __future__ import annotations

import math

import numpy as np

_MASK24 = np.uint64((1 << 24) - 1)


class TorchCPUGenerator:
    """The 32-bit words of ``torch.Generator().manual_seed(seed)``, and the draws built on them."""

    def __init__(self, seed: int) -> None:
        key = np.empty(624, dtype=np.uint64)
        key[0] = seed & 0xFFFFFFFF
        for i in range(1, 624):  # init_genrand (Matsumoto and Nishimura's reference seeding)
            prev = int(key[i - 1])
            key[i] = (1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF
        self._bits = np.random.MT19937()
        self._bits.state = {"bit_generator": "MT19937", "state": {"key": key.astype(np.uint32), "pos": 624}}

    def words(self, k: int) -> np.ndarray:
        """The next ``k`` 32-bit outputs (uint64 holding uint32 values)."""
        return self._bits.random_raw(k) if k > 0 else np.empty(0, dtype=np.uint64)

    def uniform(self, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
        """``torch.empty(shape).uniform_(low, high, generator=...)`` (float32)."""
        n = math.prod(shape)
        x = ((self.words(n) & _MASK24).astype(np.float64) * 2.0 ** -24).astype(np.float32)
        lo, hi = np.float32(low), np.float32(high)
        span = np.float32(hi - lo)
        # One rounding of x * span + lo, as a fused multiply-add: x has 24 significant bits and
        # span 24, so their product is exact in float64, and the sum is rounded once to float32
        # (exact in float64 here: |lo| and the product share an exponent range of at most 2**24).
        return (x.astype(np.float64) * np.float64(span) + np.float64(lo)).astype(np.float32).reshape(shape)

    def randperm(self, n: int) -> np.ndarray:
        """``torch.randperm(n, generator=...)`` (int64)."""
        if n >= 0xFFFFFFFF // 20:  # ATen switches to 64-bit draws there; never a DP training set here
            raise ValueError(f"randperm of {n} rows is not reproduced")
        cuts = (self.words(n - 1) % np.arange(n, 1, -1, dtype=np.uint64)).tolist()
        out = list(range(n))
        for i, z in enumerate(cuts):  # sequential by nature: each swap reads the previous ones
            j = i + z
            out[i], out[j] = out[j], out[i]
        return np.asarray(out, dtype=np.int64)

    def skip_int64(self) -> None:
        """An int64 ``random_()``: two words, discarded."""
        self.words(2)


def kaiming_bound(fan_in: int) -> float:
    """torch.nn.init.kaiming_uniform_(w, a=sqrt(5))'s bound, computed as torch computes it."""
    gain = math.sqrt(2.0 / (1 + math.sqrt(5) ** 2))
    std = gain / math.sqrt(fan_in)
    return math.sqrt(3.0) * std


def linear_init(gen: TorchCPUGenerator, d: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """An ``nn.Linear(d, n_out)``'s weight (n_out, d) and bias as ``dp_training._build`` draws them."""
    w = gen.uniform((n_out, d), -kaiming_bound(d), kaiming_bound(d))
    bound = 1 / math.sqrt(d)
    return w, gen.uniform((n_out,), -bound, bound)


def network_init(kind: str, d: int, hidden: int, seed: int, n_out: int = 1) -> list[np.ndarray]:
    """``dp_training._build(kind, d, hidden, torch.Generator().manual_seed(seed), n_out)``'s
    parameters in module order: [weight, bias] (logistic) or [weight1, bias1, weight2, bias2]."""
    gen = TorchCPUGenerator(seed)
    if kind == "logistic":
        return list(linear_init(gen, d, n_out))
    return [*linear_init(gen, d, hidden), *linear_init(gen, hidden, n_out)]


def shuffles(n: int, epochs: int, seed: int) -> list[np.ndarray]:
    """Each epoch's row order of ``DataLoader(shuffle=True, generator=Generator().manual_seed(seed))``:
    the iterator's int64 base seed, ``RandomSampler``'s permutation, then one more permutation."""
    gen, out = TorchCPUGenerator(seed), []
    for _ in range(epochs):
        gen.skip_int64()
        out.append(gen.randperm(n))
        gen.words(n - 1)  # the second permutation, drawn and discarded
    return out


__all__ = ["TorchCPUGenerator", "kaiming_bound", "linear_init", "network_init", "shuffles"]
