"""privacy/torch_rng.py: torch's CPU generator's draws in numpy, checked against torch itself bit for bit."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from audit.sections.privacy.dp_training import _build
from audit.sections.privacy.torch_rng import TorchCPUGenerator, network_init, shuffles


@pytest.mark.parametrize("seed", [0, 1, 7, 2**31 - 1, 2**32 + 5])
def test_the_generators_uniform_draws_are_torchs(seed):
    ref = torch.empty((3, 37), dtype=torch.float32).uniform_(-0.31, 0.77, generator=torch.Generator().manual_seed(seed))
    assert np.array_equal(TorchCPUGenerator(seed).uniform((3, 37), -0.31, 0.77), ref.numpy())


@pytest.mark.parametrize("seed", [0, 3, 2**31 - 1])
@pytest.mark.parametrize("kind,d,hidden,n_out", [("logistic", 57, 16, 1), ("logistic", 300, 16, 3), ("mlp", 61, 32, 1),
                                                 ("mlp", 20, 16, 4), ("mlp", 1, 8, 1)])
def test_network_init_is_the_opacus_trainers_torch_initialisation(seed, kind, d, hidden, n_out):
    net = _build(kind, d, hidden, torch.Generator().manual_seed(seed), n_out=n_out)
    ref = [p.detach().numpy() for p in net.parameters()]
    mine = network_init(kind, d, hidden, seed, n_out=n_out)
    assert [p.shape for p in mine] == [p.shape for p in ref]
    for a, b in zip(mine, ref):
        assert a.dtype == np.float32 and np.array_equal(a, b)


@pytest.mark.parametrize("n,epochs,seed", [(2, 3, 0), (10, 2, 1), (1000, 3, 5), (29_304, 2, 99)])
def test_shuffles_are_the_dataloaders_row_orders(n, epochs, seed):
    gen, ref = torch.Generator().manual_seed(seed), []
    for _ in range(epochs):  # what DataLoader(shuffle=True, generator=gen) draws per epoch
        torch.empty((), dtype=torch.int64).random_(generator=gen)
        ref.append(torch.randperm(n, generator=gen).numpy())
        torch.randperm(n, generator=gen)
    mine = shuffles(n, epochs, seed)
    assert len(mine) == epochs and all(np.array_equal(a, b) for a, b in zip(mine, ref))
    assert all(sorted(p.tolist()) == list(range(n)) for p in mine)


def test_the_fused_trainers_privacy_section_runs_without_importing_torch(tmp_path):
    """The default privacy section as in its own process (after its preloads, which keep ART from
    importing torch): its networks train and score, and torch stays unimported."""
    code = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from audit.engine.local import _preload_alone\n"
        "_preload_alone('privacy')\n"
        "from conftest import make_synthetic\n"
        "from audit.config import ModelOptions\n"
        "from audit.data import prepare_dataset\n"
        "from audit.models.baselines import train_models\n"
        "from audit.sections.privacy import PrivacyOptions, audit_privacy\n"
        "ds = prepare_dataset(make_synthetic(400, seed=2), target='label', sensitive=['sex'], name='s')\n"
        "tr = train_models(ds, options=ModelOptions(cv_folds=0, models=('logistic',)), seed=0)\n"
        "rep = audit_privacy(tr, options=PrivacyOptions(target_epsilons=(1.0,), epochs=2, bootstrap=20), seed=0)\n"
        "assert len(rep.models) == 5 and all(m.roc_auc is not None for m in rep.models[1:])\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
