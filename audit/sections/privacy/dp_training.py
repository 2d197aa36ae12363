"""DP-SGD training of small PyTorch networks with Opacus (private helpers of ``audit.sections.privacy.section``).

torch and opacus are imported inside the functions: importing them costs several
seconds, and the pipeline imports ``audit.sections.privacy.section`` just to read its options.

Every random step takes an explicit ``torch.Generator`` (weight initialisation,
batch sampling, DP noise) instead of ``torch.manual_seed``: the pipeline may run
this section in a thread next to other sections that use torch, and the global
generator would make both irreproducible.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from audit.errors import ConfigError

NETWORKS = ("logistic", "mlp")
ACCOUNTANTS = ("rdp", "prv")

# Opacus warns on every PrivacyEngine() that secure RNG is off. The report states
# ``secure_mode`` instead, so the warning only clutters CLI output; the filter is
# narrow (this message only) because warning filters are process-wide.
warnings.filterwarnings("ignore", message=r"Secure RNG turned off", category=UserWarning)
# torch warns when a full backward hook (Opacus's per-sample gradient hook) sits on
# the first layer, whose input needs no gradient; the per-sample gradients of the
# weights are still exact (a test checks the trained model learns).
warnings.filterwarnings("ignore", message=r"Full backward hook is firing when gradients are computed with respect to module outputs")

# Opacus's RDP orders stop at 63; at small epsilons the best order lies above, and
# the bound (still valid) is looser than it needs to be. TensorFlow Privacy's
# dp-accounting also searches orders up to the hundreds.
RDP_ALPHAS = tuple([1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)) + [80, 96, 128, 192, 256, 384, 512, 1024])


def accountant_kwargs(accountant: str) -> dict[str, Any]:
    """Extra arguments of the accountant's ``get_epsilon`` (the RDP orders for "rdp")."""
    return {"alphas": list(RDP_ALPHAS)} if accountant == "rdp" else {}


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters shared by the private and non-private runs of one sweep."""

    epochs: int
    batch_size: int
    learning_rate: float
    momentum: float
    max_grad_norm: float
    mlp_hidden: int
    accountant: str
    secure_mode: bool
    trainer: str = "fused"  # "fused" (fused.py, every run of a network in one loop) or "opacus"


class TrainedNet:
    """A trained network with a scikit-learn-like face (``predict_proba``, ``classes_``).

    The scikit-learn face lets ART's membership-inference attack wrap it in a
    ``ScikitlearnClassifier`` exactly like the baseline pipelines.
    """

    def __init__(self, module: Any, n_features: int, info: dict[str, Any], n_classes: int = 2):
        self._module = module
        self.n_features_in_ = n_features
        self.info = info
        self.classes_ = np.arange(n_classes)

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:
        if hasattr(self._module, "logits"):  # the fused trainer's numpy network: float32 as torch's
            from scipy import special

            logit = self._module.logits(Z)
            if len(self.classes_) > 2:
                return special.softmax(logit, axis=1).astype(np.float64)
            p = special.expit(logit[:, 0]).astype(np.float64)
            return np.column_stack([1.0 - p, p])
        import torch

        with torch.no_grad():
            logit = self._module(torch.as_tensor(np.asarray(Z, dtype=np.float32)))
            if len(self.classes_) > 2:  # multiclass: one logit per class, softmax output
                return torch.softmax(logit, dim=1).double().numpy()
            p = torch.sigmoid(logit.squeeze(1)).double().numpy()
        return np.column_stack([1.0 - p, p])


def _build(kind: str, d: int, hidden: int, gen: Any, n_out: int = 1) -> Any:
    """The network (``n_out`` logits), with PyTorch's default initialisation drawn from ``gen``."""
    import torch
    from torch import nn

    net = nn.Linear(d, n_out) if kind == "logistic" else nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, n_out))
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, nn.Linear):
                # Same distribution as nn.Linear.reset_parameters, but from our generator.
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=gen)
                bound = 1 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.bias, -bound, bound, generator=gen)
    return net


class _Tensors:
    """A map-style dataset that hands out whole batches (``__getitems__``).

    DataLoader's default path indexes rows one by one and stacks them, which costs
    more than the training step itself for a linear model; ``__getitems__`` is the
    batched-fetch hook of ``torch.utils.data`` and Opacus's Poisson loader keeps it.
    """

    def __init__(self, X: Any, y: Any):
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        return self.X[i], self.y[i]

    def __getitems__(self, idx: list[int]) -> list[Any]:
        import torch

        t = torch.as_tensor(idx, dtype=torch.long)
        return [self.X[t], self.y[t]]


def _as_batch(batch: list[Any]) -> tuple[Any, Any]:
    return batch[0], batch[1]


@lru_cache(maxsize=64)
def noise_multiplier_for(target_epsilon: float, delta: float, sample_rate: float, epochs: int, accountant: str) -> float:
    """Opacus's own search for the noise giving ``target_epsilon``, cached.

    ``make_private_with_epsilon`` is exactly ``make_private(noise_multiplier=
    get_noise_multiplier(...))``; calling the two pieces lets the search (up to ~1 s
    with RDP, far more with PRV) run once per target and be shared by both networks.
    """
    from audit.sections.privacy import rdp

    try:
        if accountant == "rdp":  # the same search on the vectorised accounting (rdp.py says why)
            return float(rdp.noise_multiplier(target_epsilon=target_epsilon, target_delta=delta, sample_rate=sample_rate,
                                              epochs=epochs, orders=RDP_ALPHAS))
        # Imported here: opacus's package import pulls torch.distributed (1.2 s), which the
        # RDP path (the fused trainer's default) never needs.
        from opacus.accountants.utils import get_noise_multiplier

        return float(get_noise_multiplier(target_epsilon=target_epsilon, target_delta=delta, sample_rate=sample_rate,
                                          epochs=epochs, accountant=accountant, **accountant_kwargs(accountant)))
    except ValueError as exc:  # "The privacy budget is too low."
        raise ConfigError(
            f"privacy.target_epsilons: epsilon {target_epsilon} cannot be reached with delta {delta:g} in {epochs} epochs "
            f"at sampling rate {sample_rate:.4f}: the noise needed exceeds Opacus's limit ({exc})"
        ) from exc


def train_net(
    kind: str,
    Z: np.ndarray,
    y: np.ndarray,
    *,
    settings: TrainSettings,
    target_epsilon: float | None,
    delta: float,
    seed: int,
    n_classes: int = 2,
) -> TrainedNet:
    """Train one network with DP-SGD (``target_epsilon`` set) or plain SGD (``None``).

    Both runs use the same optimiser, epochs, batch size and initialisation, so the
    time ratio is the cost of DP-SGD itself. The private run uses Poisson sampling
    (Opacus's ``DPDataLoader``); the plain run shuffles. ``n_classes`` > 2 trains a
    softmax output (cross-entropy on the class codes ``y``).
    """
    import torch
    from torch.utils.data import DataLoader

    s = settings
    X = torch.as_tensor(np.ascontiguousarray(Z, dtype=np.float32))
    multi = n_classes > 2
    Y = torch.as_tensor(np.asarray(y, dtype=np.int64 if multi else np.float32))
    init_gen = torch.Generator().manual_seed(seed)
    sample_gen = torch.Generator().manual_seed(seed + 1)
    noise_gen = torch.Generator().manual_seed(seed + 2)
    module = _build(kind, X.shape[1], s.mlp_hidden, init_gen, n_out=n_classes if multi else 1)
    optimizer = torch.optim.SGD(module.parameters(), lr=s.learning_rate, momentum=s.momentum)
    loader = DataLoader(_Tensors(X, Y), batch_size=s.batch_size, shuffle=True, generator=sample_gen, collate_fn=_as_batch)
    info: dict[str, Any] = {"n_train": len(Y)}
    engine = None
    loss_fn = torch.nn.CrossEntropyLoss() if multi else torch.nn.BCEWithLogitsLoss()
    if target_epsilon is not None:
        from opacus import PrivacyEngine

        # Opacus samples each row with probability 1 / len(loader) per step. The noise
        # search is accounting, not training: it stays outside the timed region.
        sample_rate = 1 / len(loader)
        sigma = noise_multiplier_for(float(target_epsilon), float(delta), sample_rate, s.epochs, s.accountant)
    t_wall, t_cpu = time.perf_counter(), time.thread_time()
    if target_epsilon is not None:
        engine = PrivacyEngine(accountant=s.accountant, secure_mode=s.secure_mode)
        # Ghost clipping computes the per-sample gradient norms without storing the
        # per-sample gradients: the same clipping and noise (so the same guarantee) as
        # the default hooks, 2x faster for the MLP on Adult.
        module, optimizer, loss_fn, loader = engine.make_private(
            module=module, optimizer=optimizer, criterion=loss_fn, data_loader=loader, noise_multiplier=sigma,
            max_grad_norm=s.max_grad_norm, poisson_sampling=True, grad_sample_mode="ghost",
            noise_generator=None if s.secure_mode else noise_gen,
        )
        info.update(noise_multiplier=sigma, sample_rate=sample_rate)
    steps = 0
    module.train()
    for _ in range(s.epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            out = module(xb)
            loss_fn(out if multi else out.squeeze(1), yb).backward()
            optimizer.step()
            steps += 1
    info["seconds"] = time.perf_counter() - t_wall
    info["cpu_seconds"] = time.thread_time() - t_cpu
    info["steps"] = steps
    module.eval()
    if engine is not None:
        info["epsilon_spent"] = spent_epsilon(engine.accountant, delta, s.accountant)
        # The GradSampleModule keeps per-sample gradient hooks; scoring needs the bare network.
        module = module._module
    return TrainedNet(module, X.shape[1], info, n_classes=n_classes)


def compute_epsilon(*, n: int, batch_size: int, noise_multiplier: float, epochs: float, delta: float,
                    accountant: str = "rdp") -> float:
    """Epsilon of DP-SGD with Poisson sampling, from Opacus's accountant.

    Sampling rate ``batch_size / n`` for ``ceil(epochs * n / batch_size)`` steps, the
    convention of TensorFlow Privacy's ``compute_dp_sgd_privacy``.

    Parameters
    ----------
    n : training rows.
    batch_size : expected batch size.
    noise_multiplier : noise standard deviation / clipping norm.
    epochs : passes over the data.
    delta : the DP delta.
    accountant : "rdp" or "prv".

    Returns
    -------
    float
        The epsilon spent (``inf`` when ``noise_multiplier`` is 0).
    """
    if accountant not in ACCOUNTANTS:
        raise ConfigError(f"accountant must be one of {', '.join(ACCOUNTANTS)}, got {accountant!r}")
    if n < 1 or not 1 <= batch_size <= n:
        raise ConfigError(f"batch_size must be between 1 and n = {n}, got {batch_size}")
    if noise_multiplier < 0 or epochs <= 0 or not 0 < delta < 1:
        raise ConfigError(f"need noise_multiplier >= 0, epochs > 0 and 0 < delta < 1; got {noise_multiplier}, {epochs}, {delta}")
    if noise_multiplier == 0:
        return math.inf
    return spent_epsilon_of([(float(noise_multiplier), batch_size / n, int(math.ceil(epochs * n / batch_size)))], delta, accountant)


def spent_epsilon_of(history: list[tuple[float, float, int]], delta: float, accountant: str) -> float:
    """The epsilon of (noise multiplier, sampling rate, steps) entries, as an Opacus accountant holds them."""
    if accountant == "rdp":  # without importing opacus (see noise_multiplier_for)
        from audit.sections.privacy import rdp

        return rdp.epsilon(list(history), delta=delta, orders=RDP_ALPHAS)
    from opacus.accountants import create_accountant

    acc = create_accountant(mechanism=accountant)
    acc.history = list(history)
    return spent_epsilon(acc, delta, accountant)


def spent_epsilon(acc: Any, delta: float, accountant: str) -> float:
    """The epsilon of an Opacus accountant's history: RDP through ``rdp.py`` (the same numbers, faster), PRV by Opacus."""
    if accountant == "rdp":
        from audit.sections.privacy import rdp

        return rdp.epsilon(acc.history, delta=delta, orders=RDP_ALPHAS)
    return float(acc.get_epsilon(delta=delta, **accountant_kwargs(accountant)))


def auto_delta(n: int) -> float:
    """The largest power of ten strictly below 1 / n."""
    return 10.0 ** (-(math.floor(math.log10(n)) + 1))


def check_secure_mode_available() -> None:
    """secure_mode needs torchcsprng (Opacus's cryptographically secure generator)."""
    try:
        import torchcsprng  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "privacy.secure_mode = true needs the torchcsprng package (a cryptographically secure random "
            "generator for Opacus), which is not installed; install it or set secure_mode = false"
        ) from exc


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch threads (0 = leave as is), restoring the previous count.

    The count is process-wide in PyTorch. One thread is the fast choice here: the
    matrices are tiny, so a second thread only adds synchronisation, and on a
    loaded 2-core machine it made DP training several times slower.
    """
    if n <= 0:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
