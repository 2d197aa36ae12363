"""Shared fixtures: small seeded synthetic data with known structure, and trained baselines."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from audit.config import DataOptions, ModelOptions
from audit.data import prepare_dataset
from audit.models.baselines import train_models

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
ADULT = ROOT / "sample_data" / "adult.csv.gz"
_REAL_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's AppTest leaves the app script installed as ``__main__``; a process started
    later with the "spawn" method (store concurrency tests, Dask's LocalCluster workers)
    would then re-run dashboard/app.py as its main module and die. Put the real one back."""
    sys.modules["__main__"] = _REAL_MAIN
    yield
    sys.modules["__main__"] = _REAL_MAIN


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


@pytest.fixture(scope="module")
def client():
    """A real Dask LocalCluster of 2 worker processes, one per test module that asks for it."""
    from audit.engine.cluster import connect, parse_engine

    with connect(parse_engine("dask", workers=2)) as c:
        yield c


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


MULTICLASS_LABELS = ("approve", "refer", "decline")
TOP_CLASS_GAP = 0.15  # how much lower group B's chance of "approve" is, by construction


def make_multiclass(n: int = 3000, seed: int = 0, gap: float = TOP_CLASS_GAP, leak: bool = False) -> pd.DataFrame:
    """Three classes with a known group disparity in the top class.

    The label is a deterministic function of ``x1`` ~ U(0, 1) and ``group``: "approve" when
    x1 is above 2/3 (group A) or 2/3 + ``gap`` (group B), "decline" below 1/3, else "refer".
    So P(approve | A) - P(approve | B) = ``gap`` exactly, and a model that learns the rule
    reproduces it. ``x2`` is weak noise, ``colour`` categorical noise; ``leak`` adds a noisy
    numeric copy of the label code (the feature SHAP must rank first).
    """
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B"], size=n)
    x1 = rng.random(n)
    x2 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    top = np.where(group == "B", 2 / 3 + gap, 2 / 3)
    code = np.where(x1 > top, 0, np.where(x1 < 1 / 3, 2, 1))
    frame = pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "group": group,
                          "decision": np.array(MULTICLASS_LABELS)[code]})
    if leak:
        frame.insert(0, "leak", code + rng.normal(scale=0.05, size=n))
    return frame


@pytest.fixture(scope="session")
def multiclass_dataset():
    return prepare_dataset(make_multiclass(), target="decision", sensitive=["group"], name="multiclass")


@pytest.fixture(scope="session")
def multiclass_trained(multiclass_dataset):
    return train_models(multiclass_dataset, options=ModelOptions(cv_folds=0), seed=0)
