"""The user's own model as the audited model: ONNX, skops and a predictions column."""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest
import skops.io as sio
from onnx import TensorProto, helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from audit.config import ModelOptions, UserModelOptions, config_from_mapping
from audit.data import prepare_dataset
from audit.models.attach import attach_user_model, load_user_model, skipped_sections
from audit.models.baselines import train_models
from audit.models.loading import ModelFile, read_model_file
from audit.models.user import SkopsModel
from audit.sections.fairness.section import FairnessOptions, audit_fairness
from audit.sections.performance import PerformanceOptions, audit_performance
from tests.conftest import make_synthetic

NUM, CAT = ["x1", "x2", "noise"], ["colour", "sex"]
PERF = PerformanceOptions(bootstrap=30)
FAIR = FairnessOptions(bootstrap=30, mitigations=("threshold_dp",), unawareness=False, intersections=False)


def fitted_pipeline(frame: pd.DataFrame) -> Pipeline:
    pre = ColumnTransformer([("num", "passthrough", NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
    pipe = Pipeline([("pre", pre), ("model", GradientBoostingClassifier(n_estimators=25, random_state=0))])
    return pipe.fit(frame[NUM + CAT], frame["label"])


def to_onnx_bytes(pipe: Pipeline) -> bytes:
    """skl2onnx with one graph input per column: floats for numbers, strings for categories."""
    types = [(c, FloatTensorType([None, 1])) for c in NUM] + [(c, StringTensorType([None, 1])) for c in CAT]
    onx = convert_sklearn(pipe, initial_types=types, options={id(pipe.steps[-1][1]): {"zipmap": False}},
                          target_opset={"": 18, "ai.onnx.ml": 3})
    return onx.SerializeToString()


def rule_onnx(penalty: float, *, width: int = 1) -> bytes:
    """A rule model: P = sigmoid(2 * x1) minus ``penalty`` for sex = F, clipped to [0, 1]."""
    x1 = helper.make_tensor_value_info("x1", TensorProto.FLOAT, [None, 1])
    sex = helper.make_tensor_value_info("sex", TensorProto.STRING, [None, 1])
    out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, width])
    nodes = [
        helper.make_node("Mul", ["x1", "two"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
        helper.make_node("LabelEncoder", ["sex"], ["pen"], domain="ai.onnx.ml", keys_strings=["F", "M"],
                         values_floats=[-penalty, 0.0], default_float=0.0),
        helper.make_node("Add", ["p", "pen"], ["q"]),
        helper.make_node("Clip", ["q", "lo", "hi"], ["c"]),
        helper.make_node("Concat", ["c"] * width, ["probabilities"], axis=1),
    ]
    inits = [helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]), helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]),
             helper.make_tensor("hi", TensorProto.FLOAT, [], [1.0])]
    graph = helper.make_graph(nodes, "rule", [x1, sex], [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.ml", 3)],
                              producer_name="rule-model-test")
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture(scope="module")
def setting():
    frame = make_synthetic(1200, seed=5)
    ds = prepare_dataset(frame.copy(), target="label", sensitive=["sex"], name="synthetic")
    trained = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy", "logistic")), seed=0)
    return frame, ds, trained, fitted_pipeline(frame.sample(600, random_state=1))


def _audit(trained, user, evaluate_on="all"):
    t = attach_user_model(trained, user, UserModelOptions(path="x", evaluate_on=evaluate_on))
    return t, audit_performance(t, options=PERF, seed=0, progress=None), audit_fairness(t, options=FAIR, seed=0, progress=None)


def test_pipeline_onnx_and_skops_give_the_same_audit(setting):
    frame, ds, trained, pipe = setting
    cols = tuple(ds.frame.columns)
    memory = SkopsModel(estimator=pipe, task="binary", positive_index=1, features=tuple(NUM + CAT),
                        file=ModelFile(raw=b"", name="in-memory", sha256="", format="memory"))
    onnx_file = read_model_file(to_onnx_bytes(pipe), name="gb.onnx")
    skops_file = read_model_file(sio.dumps(pipe), name="gb.skops")
    assert (onnx_file.format, skops_file.format) == ("onnx", "skops")
    users = [memory, load_user_model(UserModelOptions(path="gb.onnx"), ds, model_file=onnx_file),
             load_user_model(UserModelOptions(path="gb.skops"), ds, model_file=skops_file)]
    assert users[1].by_name and users[1].features == tuple(NUM + CAT)
    runs = [_audit(trained, u) for u in users]
    (t0, p0, f0), rest = runs[0], runs[1:]
    assert t0.X_test.shape[0] == ds.n_rows and p0.n_test == ds.n_rows  # every row judges it by default
    for t, p, f in rest:
        assert t.report.selected == "user" and t.report.leaderboard[-1].name == "user"
        for name, m in p0.metrics.items():
            assert abs(p.metrics[name].value - m.value) <= 1e-6, name
        assert p.confusion_matrix == p0.confusion_matrix
        for g0, g in zip(f0.groups["sex"], f.groups["sex"]):
            assert g.count == g0.count
            for name, iv in g0.metrics.items():
                if name == "roc_auc":
                    assert abs(g.metrics[name].value - iv.value) <= 1e-6
                else:
                    assert g.metrics[name].value == iv.value, name
        assert f.disparities == f0.disparities or all(
            abs(f.disparities["sex"][k].value - v.value) <= 1e-6 for k, v in f0.disparities["sex"].items())
    # The baselines stay beside it, on their own test split.
    board = {r.name: r for r in runs[1][0].report.leaderboard}
    assert set(board) == {"dummy", "logistic", "user"} and board["user"].selected and not board["logistic"].selected
    assert abs(board["user"].test_score - runs[2][0].report.leaderboard[-1].test_score) <= 1e-6


def test_rule_model_penalty_on_one_group_is_the_disparity_found(setting):
    frame, ds, trained, _ = setting
    for penalty in (0.3, 0.0):
        user = load_user_model(UserModelOptions(path="rule.onnx"), ds, model_file=read_model_file(rule_onnx(penalty), name="rule.onnx"))
        assert user.output_kind == "proba1"
        t, perf, fair = _audit(trained, user)
        # Ground truth straight from the columns: the rule's decisions per group.
        p = 1 / (1 + np.exp(-2 * ds.frame["x1"].astype(np.float32).to_numpy())) - penalty * (ds.frame["sex"] == "F")
        rates = pd.Series((p.clip(0, 1) >= 0.5).astype(float)).groupby(ds.frame["sex"].to_numpy()).mean()
        got = {g.group: g.metrics["selection_rate"].value for g in fair.groups["sex"]}
        assert got == pytest.approx(rates.to_dict(), abs=1e-12)
        gap = fair.disparities["sex"]["demographic_parity_difference"].value
        assert gap == pytest.approx(rates.max() - rates.min(), abs=1e-12)
        if penalty:
            assert gap > 0.15 and fair.verdict.status in ("warn", "fail")
        else:
            assert gap < 0.06


def test_risk_score_column_with_threshold_matches_pandas_crosstabs():
    frame = make_synthetic(1500, seed=9)
    rng = np.random.default_rng(1)
    # A decile risk score (1-10) correlated with x1: the COMPAS-like case.
    frame["decile"] = np.clip(np.ceil(5.5 + 2.5 * frame["x1"] + rng.normal(0, 1.5, len(frame))), 1, 10).astype(int)
    ds = prepare_dataset(frame.copy(), target="label", sensitive=["sex"], predictions="decile")
    assert "decile" not in ds.features and "decile" in ds.frame.columns
    trained = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy", "logistic")), seed=0)
    user = load_user_model(UserModelOptions(predictions="decile", threshold=7), ds)
    t, perf, fair = _audit(trained, user)
    assert "explanations" in skipped_sections(t) and "drift" not in skipped_sections(t)  # drift reads the column
    decision = (frame["decile"] >= 7).astype(int)
    for g in fair.groups["sex"]:
        rows = frame["sex"] == g.group
        want = pd.crosstab(frame.loc[rows, "label"], decision[rows]).reindex(index=[0, 1], columns=[0, 1], fill_value=0)
        pos, neg = int(want.loc[1].sum()), int(want.loc[0].sum())
        m = {k: v.value for k, v in g.metrics.items()}
        got = np.array([[round((1 - m["fpr"]) * neg), round(m["fpr"] * neg)], [round(m["fnr"] * pos), round(m["tpr"] * pos)]])
        assert g.count == pos + neg and (got == want.to_numpy()).all(), (g.group, got, want)
    tn, fp, fn, tp = pd.crosstab(frame["label"], decision).to_numpy().ravel()
    assert perf.confusion_matrix == ((tn, fp), (fn, tp))
    assert perf.metrics["roc_auc"].value == pytest.approx(__import__("sklearn.metrics").metrics.roc_auc_score(frame["label"], frame["decile"]), abs=1e-12)


def test_evaluate_on_test_uses_the_baselines_test_split(setting):
    frame, ds, trained, pipe = setting
    user = load_user_model(UserModelOptions(path="gb.skops"), ds, model_file=read_model_file(sio.dumps(pipe), name="gb.skops"))
    t, perf, _ = _audit(trained, user, evaluate_on="test")
    assert perf.n_test == len(trained.y_test) and t.info.evaluated_rows == len(trained.y_test)
    assert t.report.user_model.kind == "skops" and t.report.user_model.sha256 == user.file.sha256


def test_model_table_in_the_config():
    cfg = config_from_mapping({"target": "label", "sensitive": ["sex"], "model": {"predictions": "risk", "threshold": 5}})
    assert cfg.model.threshold == 5.0 and cfg.model.active
    from audit.errors import ConfigError

    with pytest.raises(ConfigError, match="either a model file"):
        config_from_mapping({"target": "label", "model": {"path": "m.onnx", "predictions": "risk"}})
    with pytest.raises(ConfigError, match="threshold must be a finite number"):
        config_from_mapping({"target": "label", "model": {"predictions": "risk", "threshold": float("nan")}})
    with pytest.raises(ConfigError, match="evaluate_on must be all or test"):
        config_from_mapping({"target": "label", "model": {"path": "m.onnx", "evaluate_on": "train"}})


@pytest.mark.slow
def test_robustness_runs_black_box_on_the_user_model_and_flips_the_penalised_group(setting):
    from audit.sections.robustness.section import RobustnessOptions, audit_robustness

    frame, ds, trained, _ = setting
    user = load_user_model(UserModelOptions(path="rule.onnx"), ds, model_file=read_model_file(rule_onnx(0.3), name="rule.onnx"))
    t = attach_user_model(trained, user, UserModelOptions(path="x"))
    assert "robustness" not in skipped_sections(t) and "privacy" not in skipped_sections(t)
    opts = RobustnessOptions(max_rows=0, repeats=1, noise_levels=(0.0, 0.1), corruption_rates=(0.0, 0.1), missing_rates=(0.0, 0.1), verdict_budget=0.5,
                             attack_rows=40, attack_budgets=(0.5,), hsj_max_iter=3)
    rep = audit_robustness(t, options=opts, seed=0, progress=None)
    # Ground truth: setting sex F -> M flips a decision exactly when 0.5 <= sigmoid(2 x1) < 0.8.
    p = 1 / (1 + np.exp(-2 * ds.frame["x1"].astype(np.float32).to_numpy(dtype=np.float64)))
    is_f = (ds.frame["sex"] == "F").to_numpy()
    flip = next(f for f in rep.flip_tests if f.column == "sex")
    by_group = {g.group: g.flip_rate for g in flip.groups}
    assert by_group["F"] == pytest.approx(float(((p >= 0.5) & (p < 0.8))[is_f].mean()), abs=2e-3)
    assert by_group["M"] == pytest.approx(float(((p >= 0.5) & (p < 0.8))[~is_f].mean()), abs=2e-3)
    assert rep.attacks.decision_based.source_model == "user"  # HopSkipJump queried the user's model itself


@pytest.mark.slow
def test_explanations_are_model_agnostic_on_the_user_model(setting):
    from audit.sections.explanations.section import ExplanationOptions, explain_model

    frame, ds, trained, _ = setting
    user = load_user_model(UserModelOptions(path="rule.onnx"), ds, model_file=read_model_file(rule_onnx(0.3), name="rule.onnx"))
    t = attach_user_model(trained, user, UserModelOptions(path="x"))
    assert "explanations" not in skipped_sections(t)
    opts = ExplanationOptions(sample_size=30, agnostic_max_rows=30, background_size=20, agnostic_permutations=2,
                              permutation_sample=300, permutation_repeats=2, surrogate_sample=300)
    rep = explain_model(t, options=opts, seed=0, progress=None)
    assert rep.explainer == "permutation" and rep.additivity.passed
    shap = {i.feature: i.mean_abs_shap for i in rep.importance}
    # The rule reads x1 and sex only: every other feature gets exactly zero attribution.
    assert max(shap, key=shap.get) == "x1" and shap["sex"] > 0
    assert shap["x2"] == shap["noise"] == shap["colour"] == 0.0
    perm = {p.feature: p.mean for p in rep.permutation.features}
    assert perm["x2"] == perm["noise"] == perm["colour"] == 0.0 and perm["x1"] > 0
