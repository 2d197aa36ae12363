"""one_thread limits the pools it names inside its block and restores them after, with a cached view
of the loaded libraries that is renewed when a module is imported."""

import sys
import types

import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime)
from threadpoolctl import threadpool_info

from audit import threads


def _threads(api):
    return [i["num_threads"] for i in threadpool_info() if api is None or i["user_api"] == api]


def test_limits_inside_and_restores_after():
    before_omp, before_all = _threads("openmp"), _threads(None)
    with threads.one_thread("openmp"):
        assert _threads("openmp") and set(_threads("openmp")) == {1}
    assert _threads("openmp") == before_omp
    with threads.one_thread(None):
        assert set(_threads(None)) == {1}
    assert _threads(None) == before_all


def test_library_view_is_cached_until_an_import():
    first = threads._controller()
    assert threads._controller() is first
    sys.modules["_audit_test_new_module"] = types.ModuleType("_audit_test_new_module")
    try:
        assert threads._controller() is not first
    finally:
        del sys.modules["_audit_test_new_module"]
