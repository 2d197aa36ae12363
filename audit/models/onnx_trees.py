"""The tree ensemble inside a user's ONNX graph, read out for exact TreeSHAP.

A scikit-learn, LightGBM or XGBoost tree model converted to ONNX ends in one
``TreeEnsembleClassifier`` / ``TreeEnsembleRegressor`` node (``ai.onnx.ml``) fed by
the graph's preprocessing (one-hot encoders, imputers, scalers). Explaining such a
graph as a black box costs ~(2 x features + 1) x permutations x background
onnxruntime calls per row; reading the trees out of the node lets shap's
``TreeExplainer`` compute exact interventional Shapley values of the encoded
columns in a fraction of that, which are then summed back to the original features
like a baseline's one-hot columns.

Nothing is guessed: :func:`read_tree_ensemble` refuses (with the reason) any graph
it cannot read exactly, and :meth:`OnnxTreeEnsemble.agreement` checks the parsed
trees against onnxruntime's own output on real rows; the audit uses the trees only
when they agree. Written here because neither onnx nor shap converts an ONNX tree
node into shap's tree format. Parsing the protobuf executes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

_TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
_PASS_THROUGH = ("Identity", "Cast", "ZipMap")  # nodes that may sit between the trees and the audited output
_MODES = (b"BRANCH_LEQ", b"BRANCH_LT", b"BRANCH_GTE", b"BRANCH_GT", b"LEAF")
AGREEMENT_TOLERANCE = 1e-5  # relative to max(1, |output|): onnxruntime accumulates leaf values in float32


def disagreement(parsed: np.ndarray, truth: np.ndarray) -> float:
    """Largest difference of the parsed trees' output from onnxruntime's, relative to max(1, |output|)."""
    if not len(truth):
        return 0.0
    return float(np.max(np.abs(parsed - truth) / np.maximum(1.0, np.abs(truth))))


@dataclass(frozen=True)
class Tree:
    """One tree in shap's array layout: a row goes left when ``x <= threshold``, NaN goes to ``default``."""

    left: np.ndarray
    right: np.ndarray
    default: np.ndarray
    features: np.ndarray
    thresholds: np.ndarray
    values: np.ndarray  # leaf values (0 at internal nodes)
    depth: int

    def predict(self, Z: np.ndarray) -> np.ndarray:
        idx = np.zeros(len(Z), dtype=np.int64)
        rows = np.arange(len(Z))
        for _ in range(self.depth):
            leaf = self.left[idx] < 0
            x = Z[rows, np.where(leaf, 0, self.features[idx])]
            step = np.where(x <= self.thresholds[idx], self.left[idx], self.right[idx])
            idx = np.where(leaf, idx, np.where(np.isnan(x), self.default[idx], step))
        return self.values[idx]

    def as_shap(self) -> dict:
        return {"children_left": self.left.astype(np.int32), "children_right": self.right.astype(np.int32),
                "children_default": self.default.astype(np.int32), "features": self.features.astype(np.int32),
                "thresholds": self.thresholds.astype(np.float64), "values": self.values.reshape(-1, 1).astype(np.float64),
                "node_sample_weight": np.ones(len(self.left), dtype=np.float64)}


@dataclass(frozen=True, eq=False)
class OnnxTreeEnsemble:
    """The trees of a graph, its base score and the link from their sum to the audited output."""

    trees: tuple[Tree, ...]
    base: float
    link: str  # "logistic": the output is sigmoid(margin) (log-odds space); "identity": the output is the margin
    output_space: str  # what the margin is: "log_odds", "probability" (a forest's averaged votes) or "raw" (regression)
    encoder: Any  # an onnxruntime session from the graph's inputs to the trees' input matrix; None: that matrix is fed
    encoded_name: str

    def encode(self, user: Any, X: pd.DataFrame) -> np.ndarray:
        """The matrix the trees split on, for raw rows ``X`` (the graph's own preprocessing)."""
        return _encode(self.encoder, self.encoded_name, user, X)

    def margin(self, Z: np.ndarray) -> np.ndarray:
        out = np.full(len(Z), self.base, dtype=np.float64)
        for t in self.trees:
            out += t.predict(Z)
        return out

    def output(self, margin: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-margin)) if self.link == "logistic" else margin

    def shap_model(self) -> dict:
        """The ensemble in the dict form ``shap.TreeExplainer`` accepts, in margin units."""
        return {"trees": [t.as_shap() for t in self.trees], "base_offset": self.base, "tree_output": "raw_value",
                "objective": "squared_error", "input_dtype": np.float64, "internal_dtype": np.float64}


def _encode(encoder: Any, encoded_name: str, user: Any, X: pd.DataFrame) -> np.ndarray:
    feed = user._feed(X)
    if encoder is None:
        Z = feed[encoded_name]
    else:
        names = [i.name for i in encoder.get_inputs()]
        # An initializer an old file also lists as a graph input is not fed: its stored value holds.
        Z = encoder.run([encoded_name], {k: feed[k] for k in names if k in feed})[0]
    return np.asarray(Z, dtype=np.float64).reshape(len(X), -1)


def _attrs(node) -> dict:
    import onnx
    from onnx import numpy_helper

    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = numpy_helper.to_array(v) if isinstance(v, onnx.TensorProto) else v
    return out


def _floats(at: dict, name: str) -> np.ndarray | None:
    v = at.get(name + "_as_tensor", at.get(name))
    return None if v is None else np.asarray(v, dtype=np.float64)


def _below(t: float, double: bool) -> float:
    """The largest input value under ``t``: ``x < t`` is ``x <= _below(t)``, in the precision the node compares in."""
    if double:
        return float(np.nextafter(np.float64(t), -np.inf))
    return float(np.nextafter(np.float32(t), np.float32(-np.inf)))


def _build_tree(ids, feats, modes, thr, true_ids, false_ids, missing_true, leaf_value: dict, double: bool) -> Tree:
    # Index 0 is the first node listed for the tree: onnxruntime's root, and where predict and shap start.
    pos = {int(n): i for i, n in enumerate(ids)}
    n = len(ids)
    left, right, default = (np.full(n, -1, dtype=np.int64) for _ in range(3))
    features, thresholds, values = np.full(n, -1, dtype=np.int64), np.full(n, -2.0), np.zeros(n)
    for i in range(n):
        if modes[i] == b"LEAF":
            values[i] = leaf_value.get(int(ids[i]), 0.0)
            continue
        t, f = pos[int(true_ids[i])], pos[int(false_ids[i])]
        go_left_when_true = modes[i] in (b"BRANCH_LEQ", b"BRANCH_LT")
        thresholds[i] = thr[i] if modes[i] in (b"BRANCH_LEQ", b"BRANCH_GT") else _below(thr[i], double)
        left[i], right[i] = (t, f) if go_left_when_true else (f, t)
        default[i] = t if missing_true[i] else f
        features[i] = int(feats[i])
    depth, stack, seen = 0, [(0, 0)], 0
    while stack:
        i, d = stack.pop()
        depth, seen = max(depth, d), seen + 1
        if seen > n:
            raise ValueError("a tree's nodes form a cycle")
        if left[i] >= 0:
            stack += [(left[i], d + 1), (right[i], d + 1)]
    return Tree(left, right, default, features, thresholds, values, depth)


def _leaf_values(at: dict, prefix: str, which: int) -> dict[int, dict[int, float]]:
    """tree id -> node id -> summed leaf weight of output column ``which``."""
    out: dict[int, dict[int, float]] = {}
    trees, nodes, cols = at[prefix + "_treeids"], at[prefix + "_nodeids"], at[prefix + "_ids"]
    weights = _floats(at, prefix + "_weights")
    if weights is None or not (len(trees) == len(nodes) == len(cols) == len(weights)):
        raise ValueError(f"the {prefix} weights are missing or do not match their ids")
    for t, n, c, w in zip(trees, nodes, cols, weights):
        if int(c) == which:
            leaves = out.setdefault(int(t), {})
            leaves[int(n)] = leaves.get(int(n), 0.0) + float(w)
    return out


def _trees(at: dict, leaf: dict[int, dict[int, float]], scale: float, double: bool) -> tuple[Tree, ...]:
    """Every tree of the node; the attribute lists are converted and split by tree once."""
    tids = np.asarray(at["nodes_treeids"], dtype=np.int64)
    cols = {k: np.asarray(at[k]) for k in ("nodes_nodeids", "nodes_featureids", "nodes_truenodeids", "nodes_falsenodeids")}
    missing = np.asarray(at.get("nodes_missing_value_tracks_true", np.zeros(len(tids), dtype=np.int64)))
    thr, modes = _floats(at, "nodes_values"), np.asarray(list(at["nodes_modes"]), dtype=object)
    if any(len(v) != len(tids) for v in (*cols.values(), missing, thr, modes)):
        raise ValueError("the node attribute lists differ in length")
    order = np.argsort(tids, kind="stable")  # a tree's nodes keep the order they are listed in
    starts = np.flatnonzero(np.r_[True, tids[order][1:] != tids[order][:-1]])
    out = []
    for sel in np.split(order, starts[1:]):
        t = int(tids[sel[0]])
        vals = {n: v * scale for n, v in leaf.get(t, {}).items()}
        out.append(_build_tree(cols["nodes_nodeids"][sel], cols["nodes_featureids"][sel], list(modes[sel]), thr[sel],
                               cols["nodes_truenodeids"][sel], cols["nodes_falsenodeids"][sel], missing[sel], vals, double))
    return tuple(out)


def _ensembles(node, task: str, double: bool) -> list[tuple[tuple[Tree, ...], float, str]]:
    """Candidate readings of the node: (trees, base, link). The caller keeps the one onnxruntime agrees with."""
    at = _attrs(node)
    modes = set(at["nodes_modes"])
    if not modes <= set(_MODES):
        raise ValueError(f"split modes {sorted(m.decode() for m in modes - set(_MODES))} are not supported")
    base = _floats(at, "base_values")
    base = np.zeros(2) if base is None or not len(base) else base
    post = at.get("post_transform", b"NONE")
    if node.op_type == "TreeEnsembleRegressor":
        if task != "regression" or int(at.get("n_targets", 1)) != 1 or post != b"NONE":
            raise ValueError("only a one-target regressor without a post-transform is supported")
        agg = at.get("aggregate_function", b"SUM")
        if agg not in (b"SUM", b"AVERAGE"):
            raise ValueError(f"aggregate function {agg.decode()} is not supported")
        n_trees = len({int(t) for t in at["nodes_treeids"]})
        scale = 1.0 / n_trees if agg == b"AVERAGE" else 1.0
        return [(_trees(at, _leaf_values(at, "target", 0), scale, double), float(base[0]), "identity")]
    if task != "binary":
        raise ValueError("a tree classifier audited as a regression model")
    classes = {int(c) for c in at["class_ids"]}
    link = {b"LOGISTIC": "logistic", b"NONE": "identity", b"SOFTMAX": "logistic"}.get(post)
    if link is None:
        raise ValueError(f"post-transform {post.decode()} is not supported")
    out = []
    if post == b"SOFTMAX" and classes == {0, 1}:  # sigmoid(m1 - m0) is the softmax's second column
        w1, w0 = _leaf_values(at, "class", 1), _leaf_values(at, "class", 0)
        diff = {t: {n: w1.get(t, {}).get(n, 0.0) - w0.get(t, {}).get(n, 0.0)
                    for n in set(w1.get(t, {})) | set(w0.get(t, {}))} for t in set(w1) | set(w0)}
        b = float(base[1] - base[0]) if len(base) > 1 else 0.0
        out.append((_trees(at, diff, 1.0, double), b, link))
    if 1 in classes:
        out.append((_trees(at, _leaf_values(at, "class", 1), 1.0, double), float(base[-1]) if len(base) > 1 else 0.0, link))
    if classes == {0}:  # one score for a binary model: the positive class's (scikit-learn's gradient boosting)
        out.append((_trees(at, _leaf_values(at, "class", 0), 1.0, double), float(base[0]), link))
    return out


def _output_feeds_from(graph, output: str, source: str) -> bool:
    """Does graph output ``output`` come from tensor ``source`` through pass-through nodes only?"""
    producer = {o: n for n in graph.node for o in n.output}
    name = output
    for _ in range(len(graph.node) + 1):
        if name == source:
            return True
        n = producer.get(name)
        if n is None or n.op_type not in _PASS_THROUGH:
            return False
        name = n.input[0]
    return False


def read_tree_ensemble(user: Any, X: pd.DataFrame) -> tuple[OnnxTreeEnsemble | None, str]:
    """The graph's trees checked against onnxruntime on rows ``X``, or None and why they cannot be used."""
    import onnx

    try:
        model = onnx.load_from_string(user.file.raw)
    except Exception as exc:  # protobuf's DecodeError and friends
        return None, f"the graph could not be parsed ({type(exc).__name__})"
    graph = model.graph
    nodes = [n for n in graph.node if n.op_type in _TREE_OPS and n.domain == "ai.onnx.ml"]
    if len(nodes) != 1:
        return None, "the graph holds no tree ensemble node" if not nodes else f"the graph holds {len(nodes)} tree ensemble nodes, not one"
    node = nodes[0]
    scored = node.output[1] if node.op_type == "TreeEnsembleClassifier" and len(node.output) > 1 else node.output[0]
    if not _output_feeds_from(graph, user.output, scored):
        return None, "the graph transforms the trees' output further"
    try:
        encoded = node.input[0]
        inputs = {i.name: i for i in graph.input}
        if encoded in inputs:
            encoder, double = None, inputs[encoded].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
        else:
            encoder, double = _encoder(model, encoded, user)
        candidates = _ensembles(node, user.task, double)
    except (ValueError, KeyError, IndexError) as exc:
        return None, f"the tree node cannot be read: {exc}"
    except Exception as exc:  # onnx's extractor and onnxruntime raise their own types
        return None, f"the graph's preprocessing cannot be run on its own ({type(exc).__name__})"
    try:
        Z = _encode(encoder, encoded, user, X)
    except Exception as exc:  # onnxruntime's pybind errors
        return None, f"the graph's preprocessing failed on the audit data ({type(exc).__name__})"
    truth, best = user.score(X), np.inf
    for trees, base, link in candidates:
        if any(int(t.features.max()) >= Z.shape[1] for t in trees):
            continue
        space = "log_odds" if link == "logistic" else "probability" if user.task == "binary" else "raw"
        ens = OnnxTreeEnsemble(trees=trees, base=base, link=link, output_space=space, encoder=encoder, encoded_name=encoded)
        err = disagreement(ens.output(ens.margin(Z)), truth)
        if err <= AGREEMENT_TOLERANCE:
            return ens, f"checked against onnxruntime on {len(X)} rows (largest difference {err:.1g})"
        best = min(best, err)
    return None, f"the trees read from the graph differ from onnxruntime's output by up to {best:.3g}"


def _encoder(model, encoded: str, user: Any) -> tuple[Any, bool]:
    """A session over the graph cut just before the tree node: raw inputs in, the trees' matrix out.

    Built by hand: ``onnx.utils.Extractor`` needs inferred shapes, which ``ai.onnx.ml``
    operators often lack. The nodes kept are those the matrix depends on; its element
    type is whichever of float (skl2onnx) and double (some converters) loads."""
    import onnx

    from audit.models.loading import ModelError, open_onnx

    nodes = list(model.graph.node)
    producer = {o: k for k, n in enumerate(nodes) for o in n.output}
    kept: set[int] = set()
    todo = [encoded]
    while todo:
        k = producer.get(todo.pop())
        if k is None or k in kept:
            continue
        kept.add(k)
        todo += [i for i in nodes[k].input if i]
    keep = [nodes[k] for k in sorted(kept)]  # the graph's own (topological) order
    used = {i for n in keep for i in n.input}
    inputs = [i for i in model.graph.input if i.name in used]
    inits = [t for t in model.graph.initializer if t.name in used]
    last: Exception | None = None
    for elem in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
        out = onnx.helper.make_tensor_value_info(encoded, elem, None)
        graph = onnx.helper.make_graph(keep, "encoder", inputs, [out], initializer=inits)
        sub = onnx.helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
        try:
            return open_onnx(sub.SerializeToString(), user.file.name), elem == onnx.TensorProto.DOUBLE
        except ModelError as exc:
            last = exc
    raise ValueError(f"the preprocessing graph does not load on its own: {last}")


def column_owners(ens: OnnxTreeEnsemble, user: Any, X: pd.DataFrame, features: tuple[str, ...], seed: int) -> np.ndarray:
    """(encoded columns, features) 0/1: which original feature each column of the trees' matrix comes from.

    Found by shuffling one feature at a time over ``X`` and seeing which columns move; a
    column that moves with two features (an interaction the graph computes) cannot be
    summed back to one, so the trees are not used. A column that never moves over
    ``X`` gets zero interventional SHAP on those rows and no owner.
    """
    missing = [c for c in user.features if c not in features]
    if missing:
        raise ValueError(f"the graph reads columns that are not audit features: {', '.join(missing[:5])}")
    rng = np.random.default_rng(seed)
    Z0 = ens.encode(user, X)
    owners = np.zeros((Z0.shape[1], len(features)))
    for j, f in enumerate(features):
        if f not in user.features:
            continue
        Xp = X.copy()
        Xp[f] = X[f].to_numpy()[rng.permutation(len(X))]
        Zp = ens.encode(user, Xp)
        owners[((Zp != Z0) & ~(np.isnan(Zp) & np.isnan(Z0))).any(axis=0), j] = 1.0
    shared = np.flatnonzero(owners.sum(axis=1) > 1)
    if len(shared):
        names = [features[j] for j in np.flatnonzero(owners[shared[0]])]
        raise ValueError(f"column {int(shared[0])} of the trees' input depends on several features ({', '.join(names)})")
    return owners
