"""Shared fixtures: small seeded synthetic data with known structure, and trained baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.config import DataOptions, ModelOptions
from audit.data import prepare_dataset
from audit.models.baselines import train_models

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
ADULT = ROOT / "sample_data" / "adult.csv.gz"


def make_synthetic(n: int = 2000, seed: int = 0, group_effect: float = 1.0) -> pd.DataFrame:
    """Binary task with a known structure.

    x1 drives the label strongly, x2 weakly, noise is independent; ``sex`` shifts the
    label log-odds by ``group_effect``; ``colour`` is categorical noise.
    """
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], size=n)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    noise = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    logit = 2.0 * x1 + 0.5 * x2 + group_effect * (sex == "M") - 0.5 * group_effect
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "noise": noise, "colour": colour, "sex": sex, "label": y})


@pytest.fixture(scope="session")
def synthetic_frame() -> pd.DataFrame:
    return make_synthetic()


@pytest.fixture(scope="session")
def synthetic_dataset(synthetic_frame):
    return prepare_dataset(synthetic_frame.copy(), target="label", sensitive=["sex"], name="synthetic")


@pytest.fixture(scope="session")
def synthetic_trained(synthetic_dataset):
    return train_models(synthetic_dataset, options=ModelOptions(cv_folds=3), seed=0)


@pytest.fixture(scope="session")
def adult_small():
    """A seeded 3,000-row sample of Adult, prepared like the default audit."""
    frame = pd.read_csv(ADULT)
    frame = frame.sample(3000, random_state=0).reset_index(drop=True)
    return prepare_dataset(frame, target="income", sensitive=["sex", "race"], options=DataOptions(exclude=("fnlwgt", "split")), name="adult-sample")


@pytest.fixture(scope="session")
def adult_small_trained(adult_small):
    return train_models(adult_small, options=ModelOptions(cv_folds=3), seed=0)
