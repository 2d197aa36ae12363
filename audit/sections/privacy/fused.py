"""One network's whole sweep (the non-private run and every target epsilon) trained in one loop.

Why not Opacus's training loop here: profiled on German credit (1,000 rows), the sweep's twelve
Opacus runs (2 networks x 6) took 4.8 s alone and 14 s inside the audit, almost all of it
Python: Opacus's hooks, its Poisson loader and the optimizer wrapper, run once per step per run,
contending for the GIL with the sections on the other thread. Our networks are one or two
``Linear`` layers, whose per-sample gradients are closed-form (the gradient of a sample's loss
with respect to a weight matrix is the outer product of the layer's input and the gradient at its
output, so its norm is the product of the two norms: the identity Opacus's ghost clipping uses).
So every run of a network is one slice of stacked weight arrays and each step is a few batched
matrix products for all runs at once.

The algorithm is Opacus's DP-SGD exactly, step for step (``tests/test_privacy_fused.py`` checks
one step against Opacus's ``GradSampleModule`` and ``DPOptimizer``):

- each step samples every row with probability ``q = 1 / ceil(n / batch_size)`` (Opacus's
  ``DPDataLoader``), for ``epochs / q`` steps;
- each sample's gradient (all parameters) is clipped to ``max_grad_norm`` with Opacus's factor
  ``min(1, C / (norm + 1e-6))``, the clipped gradients are summed, Gaussian noise of standard
  deviation ``noise_multiplier * C`` is added and the sum divided by the expected batch size
  ``int(n * q)``;
- SGD with momentum (``torch.optim.SGD``'s update, dampening 0).

The DP runs share each step's Poisson sample. Each run's privacy accounting is that of its own
mechanism (its noise, the sampling rate and its steps), unchanged by other runs reusing the same
draws; what the runs share is only which rows the randomness picked, not any of their outputs.
The non-private run is the Opacus trainer's: plain SGD on the batch's mean gradient over shuffled
fixed-size batches (``DataLoader(shuffle=True)``'s permutation per epoch), in the same loop.

The loop is numpy (float32, as the torch networks): per step it makes a tenth of the calls torch
made, and each call that releases the GIL is one more wait when other sections run Python (see
``_prompt_gil``). Weights start from the same seeded initialisation as the Opacus trainer's
(``seed``), Poisson sampling and shuffling use ``seed + 1``, the noise of all DP runs one stream
(``seed + 2``). torch itself is not imported (its import was 1.0 s of CPU in the section's process):
the initial weights and the plain run's row order are torch's generator's draws reproduced in numpy
(torch_rng.py, checked against torch bit for bit), and the trained networks score in numpy.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from scipy import special

from audit.sections.privacy.dp_training import TrainedNet, TrainSettings, noise_multiplier_for, spent_epsilon_of
from audit.sections.privacy.torch_rng import network_init, shuffles


def _initial(kind: str, d: int, settings: TrainSettings, seed: int, n_out: int, runs: int) -> list[np.ndarray]:
    """The network's parameters as ``(runs, ...)`` float32 arrays, every run from the same
    initialisation: the Opacus trainer's (torch's default, from ``Generator().manual_seed(seed)``),
    drawn without importing torch (torch_rng.py)."""
    params = []
    for i, p in enumerate(network_init(kind, d, settings.mlp_hidden, seed, n_out=n_out)):
        params.append(np.repeat((p.T if i % 2 == 0 else p)[None], runs, axis=0))  # weights stored (in, out): x @ W
    return params


def _output_grad(z: np.ndarray, yb: np.ndarray, multi: bool) -> np.ndarray:
    """d loss_i / d logits for each sample: sigmoid - y (binary), softmax - one-hot (multiclass)."""
    if multi:
        g = special.softmax(z, axis=-1)
        g[:, np.arange(len(yb)), yb] -= 1.0
        return g
    return special.expit(z) - yb[None, :, None]


def clipped_sums(params: list[np.ndarray], xb: np.ndarray, yb: np.ndarray, clip: float | None, multi: bool) -> list[np.ndarray]:
    """Each run's summed gradient over the batch, each sample's gradient scaled by ``min(1, clip /
    (norm + 1e-6))``; ``clip`` None keeps the gradients whole."""
    if len(params) == 2:
        W, b = params
        dz = _output_grad(xb @ W + b[:, None, :], yb, multi)  # (R, B, out)
        if clip is not None:
            sq = ((xb * xb).sum(1) + 1.0)[None, :] * (dz * dz).sum(-1)  # |x|^2 (+1 for the bias) * |dz|^2
            dz = dz * np.minimum(clip / (np.sqrt(sq) + 1e-6), 1.0)[..., None]
        return [xb.T @ dz, dz.sum(1)]
    W1, b1, W2, b2 = params
    a = np.maximum(xb @ W1 + b1[:, None, :], 0.0)  # (R, B, hidden)
    dz = _output_grad(a @ W2 + b2[:, None, :], yb, multi)
    da = (dz @ W2.transpose(0, 2, 1)) * (a > 0)
    if clip is not None:
        sq = ((a * a).sum(-1) + 1.0) * (dz * dz).sum(-1) + ((xb * xb).sum(1) + 1.0)[None, :] * (da * da).sum(-1)
        c = np.minimum(clip / (np.sqrt(sq) + 1e-6), 1.0)[..., None]
        dz, da = dz * c, da * c
    return [xb.T @ da, da.sum(1), a.transpose(0, 2, 1) @ dz, dz.sum(1)]


class _Sweep:
    """SGD with momentum for a stack of runs: DP-SGD (``sigmas`` set) or plain SGD (``sigmas`` None)."""

    def __init__(self, params: list[np.ndarray], sigmas: list[float] | None, settings: TrainSettings, expected: int,
                 seed: int):
        self.params, self.s, self.expected = params, settings, expected
        self.private = sigmas is not None
        self.std = None if sigmas is None else (np.asarray(sigmas, dtype=np.float32) * settings.max_grad_norm)[:, None]
        self.noise = np.random.default_rng(seed + 2)
        self.sizes = [int(np.prod(p.shape[1:])) for p in params]
        self.buf: list[np.ndarray] | None = None

    def step(self, xb: np.ndarray, yb: np.ndarray, multi: bool) -> None:
        if self.private:
            sums = clipped_sums(self.params, xb, yb, self.s.max_grad_norm, multi)
            # (sum + noise) / expected batch size, Opacus's loss_reduction "mean"; one draw per step
            # for every parameter of every run.
            noise = self.noise.standard_normal((len(self.std), sum(self.sizes)), dtype=np.float32) * self.std
            parts = np.split(noise, np.cumsum(self.sizes)[:-1], axis=1)
            grads = [(g + z.reshape(g.shape)) * np.float32(1.0 / self.expected) for g, z in zip(sums, parts)]
        else:  # the batch's mean gradient
            grads = [g * np.float32(1.0 / max(len(yb), 1)) for g in clipped_sums(self.params, xb, yb, None, multi)]
        if self.buf is None:
            self.buf = grads
        else:
            for b, g in zip(self.buf, grads):
                b *= np.float32(self.s.momentum)
                b += g
        for p, b in zip(self.params, self.buf):
            p -= np.float32(self.s.learning_rate) * b


class NumpyNet:
    """A trained run's network: the logits of ``x @ W + b`` per layer (ReLU between), in float32
    like the training loop and the torch network the Opacus trainer gives."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.layers = layers

    def logits(self, Z: np.ndarray) -> np.ndarray:
        h = np.asarray(Z, dtype=np.float32)
        for i, (W, b) in enumerate(self.layers):
            h = h @ W + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, np.float32(0.0))
        return h


def _net_of(params: list[np.ndarray], r: int) -> NumpyNet:
    """Run ``r``'s parameters as a network (what ``TrainedNet`` scores with)."""
    return NumpyNet([(np.ascontiguousarray(params[i][r]), np.ascontiguousarray(params[i + 1][r]))
                     for i in range(0, len(params), 2)])


def train_sweep(kind: str, Z: np.ndarray, y: np.ndarray, *, settings: TrainSettings, epsilons: tuple[float | None, ...],
                delta: float, seed: int, n_classes: int = 2) -> list[TrainedNet]:
    """Train network ``kind`` once per entry of ``epsilons`` (``None``: non-private) in one loop."""
    s, n = settings, len(y)
    multi, n_out = n_classes > 2, (n_classes if n_classes > 2 else 1)
    X = np.ascontiguousarray(Z, dtype=np.float32)
    Y = np.asarray(y, dtype=np.int64 if multi else np.float32)
    n_batches = math.ceil(n / s.batch_size)
    q = 1 / n_batches
    steps = int(1 / q) * s.epochs
    targets = [float(e) for e in epsilons if e is not None]
    sigmas = [noise_multiplier_for(e, float(delta), q, s.epochs, s.accountant) for e in targets]
    t_wall, t_cpu = time.perf_counter(), time.thread_time()
    expected = int(n * q)
    dp = _Sweep(_initial(kind, X.shape[1], s, seed, n_out, len(sigmas)), sigmas, s, expected, seed) if sigmas else None
    plain = _Sweep(_initial(kind, X.shape[1], s, seed, n_out, 1), None, s, expected, seed) if None in epsilons else None
    perms = shuffles(n, s.epochs, seed + 1) if plain is not None else None
    poisson = np.random.default_rng(seed + 1)
    with _prompt_gil():
        for epoch in range(s.epochs):
            drawn = poisson.random((n_batches, n), dtype=np.float32) < q if dp is not None else None
            for b in range(n_batches):
                if dp is not None:
                    idx = np.flatnonzero(drawn[b])
                    dp.step(X[idx], Y[idx], multi)
                if plain is not None:
                    rows = perms[epoch][b * s.batch_size:(b + 1) * s.batch_size]
                    plain.step(X[rows], Y[rows], multi)
    seconds, cpu = time.perf_counter() - t_wall, time.thread_time() - t_cpu
    out, k = [], 0
    for eps in epsilons:
        info: dict[str, Any] = {"n_train": n, "steps": steps, "seconds": seconds, "cpu_seconds": cpu, "fused_runs": len(epsilons)}
        if eps is None:
            params, r = plain.params, 0
        else:
            params, r, sigma = dp.params, k, sigmas[k]
            k += 1
            info.update(noise_multiplier=sigma, sample_rate=q, epsilon_spent=spent_epsilon_of([(sigma, q, steps)], delta, s.accountant))
        out.append(TrainedNet(_net_of(params, r), X.shape[1], info, n_classes=n_classes))
    return out


@contextmanager
def _prompt_gil(interval: float = 1e-4) -> Iterator[None]:
    """A short GIL switch interval while the loop runs.

    Each step is a few dozen small numpy calls, and the larger ones release the GIL. When another
    section's thread runs Python code meanwhile, every release costs this thread the switch
    interval (5 ms by default) before it gets the GIL back: on German credit the sweep took 10 s
    beside the fairness section against 0.4 s alone. The interval is process-wide, so it is
    restored at once after the loop.
    """
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, interval))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


__all__ = ["train_sweep", "clipped_sums"]
