"""Reading a user's model file safely: size cap, format from magic bytes, skops allow-list.

Nothing here unpickles or executes what a user supplies. Pickle and joblib files
are refused outright; a skops file is loaded only when every type it holds is a
class from scikit-learn, numpy or scipy (skops itself then builds the objects
without ``pickle``); an ONNX file is a protobuf graph that onnxruntime runs with
its own operators.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from audit.errors import AuditError


class ModelError(AuditError):
    """The user's model file or predictions column cannot be audited as given."""


E_NOT_FOUND = "model file not found: {path}"
E_TOO_BIG = "the model file {name} is {size:.1f} MB, over the {limit:g} MB limit (raise model.max_file_mb to allow it)"
E_EMPTY = "the model file {name} is empty"
E_PICKLE = (
    "the model file {name} is a {kind} file, which the audit never loads (unpickling runs code); "
    "save the model with skops.io.dump(model, 'model.skops') or convert it with skl2onnx.to_onnx"
)
E_FORMAT = "the model file {name} is neither ONNX nor skops (expected a .onnx or .skops file)"
E_SKOPS_CORRUPT = "the skops file {name} could not be read: {detail}"
E_SKOPS_UNTRUSTED = (
    "the skops file {name} holds types outside the allow-list of scikit-learn, numpy and scipy classes: {types}; "
    "the audit does not load it"
)
E_ONNX_CORRUPT = "the ONNX file {name} could not be read: {detail}"

# The allowed homes of classes a skops file may hold. Only classes (never functions, so
# nothing a file names is called) whose module is one of these packages.
ALLOWED_PACKAGES = ("sklearn", "numpy", "scipy")

_PICKLE_EXT = {".pkl": "pickle", ".pickle": "pickle", ".joblib": "joblib", ".jl": "joblib", ".sav": "pickle"}


@dataclass(frozen=True)
class ModelFile:
    """A model file's bytes and provenance."""

    raw: bytes
    name: str
    sha256: str
    format: str  # "onnx" | "skops"


def read_model_file(source: str | Path | bytes | IO[bytes], *, name: str | None = None, max_file_mb: float = 200.0) -> ModelFile:
    """Read a model file (a path, bytes or a binary file object), check its size and format."""
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.is_file():
            raise ModelError(E_NOT_FOUND.format(path=p))
        _check_size(p.stat().st_size, max_file_mb, p.name)
        raw, shown = p.read_bytes(), p.name
    elif isinstance(source, (bytes, bytearray)):
        raw, shown = bytes(source), "upload"
    else:
        shown = Path(str(getattr(source, "name", "upload"))).name
        raw = source.read()
    shown = name or shown
    _check_size(len(raw), max_file_mb, shown)
    return ModelFile(raw=raw, name=shown, sha256=hashlib.sha256(raw).hexdigest(), format=sniff_format(raw, shown))


def _check_size(size: int, limit_mb: float, name: str) -> None:
    if limit_mb > 0 and size > limit_mb * 1024 * 1024:
        raise ModelError(E_TOO_BIG.format(name=name, size=size / 1048576, limit=limit_mb))


def sniff_format(raw: bytes, name: str) -> str:
    """``"onnx"`` or ``"skops"`` from the content; pickle and joblib refused whatever the name says."""
    if not raw:
        raise ModelError(E_EMPTY.format(name=name))
    kind = _pickle_kind(raw, name)
    if kind:
        raise ModelError(E_PICKLE.format(name=name, kind=kind))
    if raw[:4] == b"PK\x03\x04":
        return "skops"
    if Path(name).suffix.lower() == ".skops":
        raise ModelError(E_SKOPS_CORRUPT.format(name=name, detail="not a zip archive"))
    # ONNX has no magic number: a ModelProto starts with field 1 (ir_version, a varint), tag 0x08.
    if raw[:1] == b"\x08" or Path(name).suffix.lower() == ".onnx":
        return "onnx"
    raise ModelError(E_FORMAT.format(name=name))


def _pickle_kind(raw: bytes, name: str) -> str | None:
    ext = _PICKLE_EXT.get(Path(name).suffix.lower())
    if ext:
        return ext
    if raw[:1] == b"\x80" and raw[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    # joblib.dump(compress=...) wraps the pickle in zlib ("ZF" + zlib in old versions), gzip, bz2, xz or lz4.
    if raw[:2] in (b"x\x01", b"x\x5e", b"x\x9c", b"x\xda", b"ZF") or raw[:3] == b"BZh" or raw[:6] == b"\xfd7zXZ\x00" \
            or raw[:2] == b"\x1f\x8b" or raw[:4] == b"\x04\x22\x4d\x18":
        return "joblib"
    return None


def _is_allowed_class(qualname: str) -> bool:
    """A class (not a function) defined in scikit-learn, numpy or scipy, found without loading the file."""
    module, _, attr = qualname.rpartition(".")
    if not module or module.split(".")[0] not in ALLOWED_PACKAGES:
        return False
    try:
        obj = importlib.import_module(module)
    except ImportError:
        return False
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return False
    return isinstance(obj, type)


# A skops file is a zip archive: its unpacked size is capped too (a zip bomb is small on disk).
UNPACKED_FACTOR = 20


def load_skops(raw: bytes, name: str, *, max_unpacked_mb: float = 200.0 * UNPACKED_FACTOR) -> Any:
    """The estimator in a skops file, loaded only when every type in it is on the allow-list."""
    import skops.io as sio

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            if "schema.json" not in zf.namelist():
                raise ModelError(E_SKOPS_CORRUPT.format(name=name, detail="no schema.json inside (not a skops file)"))
            unpacked = sum(i.file_size for i in zf.infolist())
            if max_unpacked_mb > 0 and unpacked > max_unpacked_mb * 1048576:
                raise ModelError(E_TOO_BIG.format(name=f"{name} (unpacked)", size=unpacked / 1048576, limit=max_unpacked_mb))
        untrusted = sio.get_untrusted_types(data=raw)
    except ModelError:
        raise
    except Exception as exc:  # zipfile / json / skops raise many types on corrupt files
        raise ModelError(E_SKOPS_CORRUPT.format(name=name, detail=f"{type(exc).__name__}: {exc}")) from exc
    refused = [t for t in untrusted if not _is_allowed_class(t)]
    if refused:
        raise ModelError(E_SKOPS_UNTRUSTED.format(name=name, types=", ".join(sorted(refused)[:10])))
    try:
        return sio.loads(raw, trusted=list(untrusted))
    except Exception as exc:
        raise ModelError(E_SKOPS_CORRUPT.format(name=name, detail=f"{type(exc).__name__}: {exc}")) from exc


def open_onnx(raw: bytes, name: str) -> Any:
    """An onnxruntime session over the graph (CPU, no custom operator libraries)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only: warnings go to stderr and are not the user's concern
    # One thread per session: the pipeline already runs sections side by side on the 2 cores.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(raw, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own pybind error types
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(E_ONNX_CORRUPT.format(name=name, detail=detail[:300])) from exc
