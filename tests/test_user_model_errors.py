"""Bad model files and predictions columns: each a one-line error (CLI exit 2), nothing executed."""

from __future__ import annotations

import pickle
import zlib

import joblib
import numpy as np
import pytest
import skops.io as sio

from audit.cli import main
from audit.models.loading import ModelError, load_skops, read_model_file
from tests.conftest import make_synthetic
from tests.test_user_model import fitted_pipeline, rule_onnx, to_onnx_bytes

CALLS: list[str] = []


class Trap:
    """Loading it runs code: skops calls ``__setstate__`` when it rebuilds the object."""

    def __init__(self) -> None:
        self.payload = "x"

    def __setstate__(self, state) -> None:
        CALLS.append("called")
        self.__dict__.update(state)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    frame = make_synthetic(300, seed=2)
    frame["risk"] = np.linspace(0, 1, len(frame))
    frame["risk_missing"] = frame["risk"].where(frame.index % 50 != 0)
    frame["score10"] = np.arange(len(frame)) % 10 + 1
    frame.to_csv(d / "data.csv", index=False)
    pipe = fitted_pipeline(frame)
    good = to_onnx_bytes(pipe)
    (d / "model.pkl").write_bytes(pickle.dumps(pipe))
    joblib.dump(pipe, d / "model.joblib")
    joblib.dump(pipe, d / "compressed.bin", compress=3)
    (d / "trap.skops").write_bytes(sio.dumps(Trap()))
    (d / "corrupt.onnx").write_bytes(b"\x08\x07" + b"\xff" * 200)
    (d / "truncated.onnx").write_bytes(good[: len(good) // 2])
    renamed = good.replace(b"colour", b"colr_x")  # an input naming a column the data lacks
    (d / "renamed.onnx").write_bytes(renamed)
    (d / "three.onnx").write_bytes(rule_onnx(0.1, width=3))
    (d / "big.onnx").write_bytes(good)
    return d


def _cli(files, capsys, *extra):
    code = main(["run", str(files / "data.csv"), "--target", "label", "--sensitive", "sex", "--sections", "performance",
                 "--out", str(files / "out"), "--quiet", *map(str, extra)])
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize("args, message", [
    (("--model", "model.pkl"), "is a pickle file, which the audit never loads"),
    (("--model", "model.joblib"), "is a joblib file, which the audit never loads"),
    (("--model", "compressed.bin"), "save the model with skops.io.dump"),
    (("--model", "trap.skops"), "holds types outside the allow-list"),
    (("--model", "corrupt.onnx"), "the ONNX file corrupt.onnx could not be read"),
    (("--model", "truncated.onnx"), "the ONNX file truncated.onnx could not be read"),
    (("--model", "renamed.onnx"), "inputs name columns missing from the data: colr_x"),
    (("--model", "three.onnx"), "does not fit a binary task: output 'probabilities' has 3 columns"),
    (("--predictions", "risk_missing"), "predictions column 'risk_missing' has 6 missing or infinite values"),
    (("--predictions", "score10"), "outside [0, 1]; give the decision cut on its scale with --threshold"),
    (("--model", "big.onnx", "--config", "limit.toml"), "over the 0.01 MB limit (raise model.max_file_mb"),
    (("--model", "missing.onnx"), "model file not found"),
])
def test_bad_model_input_is_one_line_exit_2(files, capsys, args, message):
    (files / "limit.toml").write_text("[model]\nmax_file_mb = 0.01\n")
    args = tuple(str(files / a) if a.endswith((".pkl", ".joblib", ".bin", ".skops", ".onnx", ".toml")) else a for a in args)
    code, err = _cli(files, capsys, *args)
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert message in err, err


def test_malicious_skops_is_refused_without_calling_anything(files):
    raw = (files / "trap.skops").read_bytes()
    CALLS.clear()
    with pytest.raises(ModelError, match=r"test_user_model_errors\.Trap"):
        load_skops(raw, "trap.skops")
    assert CALLS == []
    # The file really would run code: skops called with the type trusted does call it.
    sio.loads(raw, trusted=sio.get_untrusted_types(data=raw))
    assert CALLS == ["called"]


def test_a_skops_zip_bomb_is_refused_before_unpacking():
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("schema.json", "{}")
        zf.writestr("big.npy", b"\0" * (3 * 1048576))  # 3 MB that compress to a few KB
    with pytest.raises(ModelError, match=r"bomb.skops \(unpacked\) is 3.0 MB, over the 1 MB limit"):
        load_skops(buf.getvalue(), "bomb.skops", max_unpacked_mb=1)


def test_pickle_is_refused_by_content_whatever_its_name():
    with pytest.raises(ModelError, match="is a pickle file"):
        read_model_file(pickle.dumps({"a": 1}), name="model.onnx")
    with pytest.raises(ModelError, match="is a joblib file"):
        read_model_file(zlib.compress(pickle.dumps({"a": 1})), name="model.skops")
