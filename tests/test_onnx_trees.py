"""TreeSHAP on the tree ensemble inside a user's ONNX graph (issue 14, item 7's explanations cost).

Ground truth: shap's own TreeExplainer on the scikit-learn model the graph was
converted from, with the same background rows; onnxruntime's output for the parsed
trees, on rows that sit exactly on thresholds or are missing.
"""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest
import shap
from onnx import TensorProto, helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from audit.config import ModelOptions, UserModelOptions
from audit.data import prepare_dataset
from audit.errors import ConfigError
from audit.models.attach import attach_user_model, load_user_model
from audit.models.baselines import train_models
from audit.models.loading import read_model_file
from audit.models.onnx_trees import column_owners, read_tree_ensemble
from audit.models.user import onnx_model
from audit.sections.explanations.section import ExplanationOptions, explain_model
from tests.conftest import make_synthetic
from tests.test_user_model import rule_onnx

NUM, CAT = ["x1", "x2", "noise"], ["colour", "sex"]
OPTS = ExplanationOptions(sample_size=60, background_size=40, permutation_sample=200, permutation_repeats=2,
                          surrogate_sample=300, n_clusters=0)


def _convert(pipe: Pipeline) -> bytes:
    types = [(c, FloatTensorType([None, 1])) for c in NUM] + [(c, StringTensorType([None, 1])) for c in CAT]
    opts = {id(pipe.steps[-1][1]): {"zipmap": False}} if hasattr(pipe.steps[-1][1], "predict_proba") else None
    return convert_sklearn(pipe, initial_types=types, options=opts, target_opset={"": 18, "ai.onnx.ml": 3}).SerializeToString()


def _setting(task: str):
    frame = make_synthetic(900, seed=11)
    target = "label"
    if task == "regression":
        frame["score"] = 2.0 * frame["x1"] - frame["x2"] + (frame["sex"] == "M") + 0.1 * frame["noise"]
        frame, target = frame.drop(columns="label"), "score"
    ds = prepare_dataset(frame.copy(), target=target, sensitive=["sex"], name="synthetic")
    trained = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy",)), seed=0)
    return frame, target, ds, trained


def _fit(frame, target, est) -> Pipeline:
    frame = frame.copy()
    frame[NUM] = frame[NUM].astype(np.float32)  # what the graph's float inputs see
    pre = ColumnTransformer([("num", "passthrough", NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
    return Pipeline([("pre", pre), ("model", est)]).fit(frame[NUM + CAT], frame[target])


def _sklearn_shap(pipe: Pipeline, X: pd.DataFrame, Xb: pd.DataFrame, features: tuple[str, ...], positive_column: bool):
    """shap's TreeExplainer on the fitted scikit-learn model, one-hot columns summed into their feature."""
    pre, est = pipe[:-1], pipe[-1]
    enc = lambda F: np.asarray(pre.transform(F.assign(**{c: F[c].astype(np.float32) for c in NUM})[NUM + CAT]), dtype=np.float64)
    ex = shap.TreeExplainer(est, data=enc(Xb), feature_perturbation="interventional")
    sv = np.asarray(ex.shap_values(enc(X), check_additivity=False))
    if positive_column and sv.ndim == 3:
        sv = sv[..., 1]
    owner = [n.split("__", 1)[1] for n in pre.get_feature_names_out()]
    owner = [next(f for f in features if o == f or o.startswith(f + "_")) for o in owner]
    return np.column_stack([sv[:, [i for i, o in enumerate(owner) if o == f]].sum(axis=1) for f in features])


@pytest.mark.parametrize("task,est,space", [
    ("binary", GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0), "log_odds"),
    ("binary", RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0), "probability"),
    ("regression", GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0), "raw"),
])
def test_tree_shap_of_the_onnx_graph_equals_shap_on_the_scikit_learn_model(task, est, space):
    frame, target, ds, trained = _setting(task)
    pipe = _fit(frame.sample(500, random_state=2), target, est)
    user = load_user_model(UserModelOptions(path="m.onnx"), ds, model_file=read_model_file(_convert(pipe), name="m.onnx"))
    t = attach_user_model(trained, user, UserModelOptions(path="m.onnx"))
    rep = explain_model(t, options=OPTS, seed=3, progress=None)
    assert rep.explainer == "tree" and rep.output_space == space
    assert "trees read from the ONNX graph" in rep.background and rep.n_background == 40
    assert rep.additivity.passed and rep.additivity.max_abs_error < 1e-6
    # The same explained rows and background rows, explained by shap on the original estimator.
    X = t.X_test.iloc[list(rep.rows)].reset_index(drop=True)
    take = np.sort(np.random.default_rng(3).choice(len(t.X_train), size=40, replace=False))
    want = _sklearn_shap(pipe, X, t.X_train.iloc[take], tuple(ds.features), task == "binary")
    got = np.column_stack([np.asarray(b.shap) for b in rep.beeswarm])
    assert [b.feature for b in rep.beeswarm] == list(ds.features)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert np.abs(want).sum() > 1  # not a trivial agreement of zeros


def _tensor_regressor(nodes: list[tuple], leaves: dict[tuple[int, int], float], base: float = 0.0,
                      elem: int = TensorProto.FLOAT) -> bytes:
    """A TreeEnsembleRegressor on one float tensor input "X" of two columns.

    ``nodes``: (tree, node, feature, mode, threshold, true node, false node, missing goes true)."""
    cols = list(zip(*nodes))
    node = helper.make_node(
        "TreeEnsembleRegressor", ["X"], ["variable"], domain="ai.onnx.ml", n_targets=1, post_transform="NONE",
        nodes_treeids=list(cols[0]), nodes_nodeids=list(cols[1]), nodes_featureids=list(cols[2]), nodes_modes=list(cols[3]),
        nodes_values=list(cols[4]), nodes_truenodeids=list(cols[5]), nodes_falsenodeids=list(cols[6]),
        nodes_missing_value_tracks_true=list(cols[7]), target_treeids=[k[0] for k in leaves], target_nodeids=[k[1] for k in leaves],
        target_ids=[0] * len(leaves), target_weights=list(leaves.values()), base_values=[base])
    graph = helper.make_graph([node], "trees", [helper.make_tensor_value_info("X", elem, [None, 2])],
                              [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.ml", 3)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_every_split_mode_and_missing_value_route_follows_onnxruntime():
    L = "LEAF"
    nodes = [  # leaf weights are powers of two, so a row sent down a wrong branch shows in the sum
        (0, 0, 0, "BRANCH_LT", 0.5, 1, 2, 1), (0, 1, 0, L, 0, 0, 0, 0), (0, 2, 0, L, 0, 0, 0, 0),
        (1, 0, 1, "BRANCH_GTE", -1.0, 1, 2, 0), (1, 1, 0, L, 0, 0, 0, 0), (1, 2, 0, L, 0, 0, 0, 0),
        (2, 0, 0, "BRANCH_GT", 0.25, 1, 2, 0), (2, 1, 1, "BRANCH_LEQ", 3.0, 3, 4, 1), (2, 2, 0, L, 0, 0, 0, 0),
        (2, 3, 0, L, 0, 0, 0, 0), (2, 4, 0, L, 0, 0, 0, 0),
    ]
    leaves = {(0, 1): 1.0, (0, 2): 2.0, (1, 1): 4.0, (1, 2): 8.0, (2, 2): 16.0, (2, 3): 32.0, (2, 4): 64.0}
    user = onnx_model(read_model_file(_tensor_regressor(nodes, leaves, base=0.5), name="t.onnx"), task="regression",
                      columns=("a", "b"), features=("a", "b"))
    below = lambda v: float(np.nextafter(np.float32(v), np.float32(-np.inf)))
    a = [0.5, below(0.5), 0.25, below(0.25), np.nan, 1.0, -3.0, 0.3, np.nan, 0.26]
    b = [-1.0, below(-1.0), 3.0, below(3.0), np.nan, 3.5, 10.0, np.nan, 2.0, 3.0]
    X = pd.DataFrame({"a": a, "b": b})
    ens, note = read_tree_ensemble(user, X)
    assert ens is not None, note
    Z = ens.encode(user, X)
    np.testing.assert_array_equal(ens.margin(Z), user.score(X))
    # shap's TreeExplainer reads the same trees the same way: its values add up to the margin on every row.
    ex = shap.TreeExplainer(ens.shap_model(), data=Z[::-1], feature_perturbation="interventional")
    sv = ex.shap_values(Z, check_additivity=False)
    np.testing.assert_allclose(sv.sum(axis=1) + ex.expected_value, ens.margin(Z), atol=1e-9)
    np.testing.assert_allclose(ex.expected_value, ens.margin(Z[::-1]).mean(), atol=1e-9)


def test_a_column_computed_from_two_features_keeps_the_trees_out():
    a, b = helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 1]), helper.make_tensor_value_info("b", TensorProto.FLOAT, [None, 1])
    pre = [helper.make_node("Mul", ["a", "b"], ["ab"]), helper.make_node("Concat", ["ab", "a"], ["X"], axis=1)]
    tree = onnx.load_from_string(_tensor_regressor([(0, 0, 0, "BRANCH_LEQ", 0.0, 1, 2, 0), (0, 1, 0, "LEAF", 0, 0, 0, 0),
                                                    (0, 2, 0, "LEAF", 0, 0, 0, 0)], {(0, 1): 1.0, (0, 2): 3.0})).graph.node[0]
    graph = helper.make_graph(pre + [tree], "mul", [a, b], [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])])
    raw = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.ml", 3)]).SerializeToString()
    user = onnx_model(read_model_file(raw, name="mul.onnx"), task="regression", columns=("a", "b"))
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    ens, note = read_tree_ensemble(user, X)
    assert ens is not None and ens.encoder is not None, note  # the Mul/Concat preprocessing runs on its own
    with pytest.raises(ValueError, match=r"column 0 of the trees' input depends on several features \(a, b\)"):
        column_owners(ens, user, X, ("a", "b"), 0)


def test_a_graph_without_trees_is_explained_model_agnostically_and_says_why():
    frame = make_synthetic(600, seed=5)
    ds = prepare_dataset(frame.copy(), target="label", sensitive=["sex"], name="synthetic")
    trained = train_models(ds, options=ModelOptions(cv_folds=0, models=("dummy",)), seed=0)
    user = load_user_model(UserModelOptions(path="rule.onnx"), ds, model_file=read_model_file(rule_onnx(0.3), name="rule.onnx"))
    assert read_tree_ensemble(user, ds.X.iloc[:20]) == (None, "the graph holds no tree ensemble node")
    t = attach_user_model(trained, user, UserModelOptions(path="rule.onnx"))
    with pytest.raises(ConfigError, match="'tree' needs a tree ensemble.*no tree ensemble node"):
        explain_model(t, options=ExplanationOptions(explainer="tree"), seed=0, progress=None)
    rep = explain_model(t, options=ExplanationOptions(sample_size=20, agnostic_max_rows=20, background_size=10,
                                                      agnostic_permutations=1, permutation_sample=100, permutation_repeats=1,
                                                      surrogate_sample=200, n_clusters=0), seed=0, progress=None)
    assert rep.explainer == "permutation" and rep.background.endswith("the graph's trees were not used: the graph holds no tree ensemble node")


def test_a_double_input_is_split_in_double_and_the_first_listed_node_is_the_root():
    L = "LEAF"
    # Tree 0 splits a double input at 0.3 (x < 0.3); tree 1 lists a leaf before its node id 0,
    # and onnxruntime starts at the first node listed, so every row gets that leaf.
    nodes = [(0, 0, 0, "BRANCH_LT", 0.3, 1, 2, 0), (0, 1, 0, L, 0, 0, 0, 0), (0, 2, 0, L, 0, 0, 0, 0),
             (1, 1, 0, L, 0, 0, 0, 0), (1, 0, 1, "BRANCH_LEQ", 0.0, 1, 2, 0), (1, 2, 0, L, 0, 0, 0, 0)]
    leaves = {(0, 1): 1.0, (0, 2): 2.0, (1, 1): 12_345.678, (1, 2): 40_000.25}
    user = onnx_model(read_model_file(_tensor_regressor(nodes, leaves, elem=TensorProto.DOUBLE), name="d.onnx"),
                      task="regression", columns=("a", "b"), features=("a", "b"))
    t = float(np.float32(0.3))  # the threshold as the node stores it
    a = [t - 1e-12, t, float(np.nextafter(t, 1)), 0.3, 0.5]
    X = pd.DataFrame({"a": a, "b": [-1.0, 1.0, 0.0, 2.0, -3.0]})
    ens, note = read_tree_ensemble(user, X)  # large leaves: agreement is relative to the output's size
    assert ens is not None, note
    # Compared in double, t - 1e-12 is below the threshold (in float32 it would equal it).
    want = [12_346.678, 12_347.678, 12_347.678, 12_346.678, 12_347.678]
    np.testing.assert_allclose(ens.margin(ens.encode(user, X)), want, rtol=1e-7)  # leaf weights are stored as float32
    np.testing.assert_allclose(user.score(X), want, rtol=1e-6)  # onnxruntime's float32 output
