"""Sign-in under attack: wrong-password timing per kind of account, and memory of parallel attempts.

    .venv/bin/python bench/bench_signin.py [--repeats 7]

With the default argon2 parameters (64 MiB, t=3), times a wrong password against an
account with a current hash, one whose hash was made with cheaper, outdated parameters,
and an unknown username (issue 17 item 12: these must cost the same), then runs 16
wrong-password attempts in parallel threads and reports the process's peak RSS (item 9:
at most ``max_concurrent_hashes`` argon2 hashes hold memory at once).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
from argon2 import PasswordHasher

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.errors import PermissionDenied  # noqa: E402
from audit.store.core import AuditStore, SignInLimits  # noqa: E402

PW = "correct horse battery"
OUTDATED = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def _wrong(store: AuditStore, name: str) -> float:
    start = time.perf_counter()
    try:
        store.authenticate(name, password="not the password")
    except PermissionDenied:
        pass
    return time.perf_counter() - start


def _parallel_peak_mb(store: AuditStore) -> float:
    process, done, peak = psutil.Process(), threading.Event(), [0]
    before = process.memory_info().rss

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _i: _wrong(store, "nina"), range(16)))
    done.set()
    sampler.join()
    return (peak[0] - before) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    limits = SignInLimits(per_user=10_000, per_client=10_000)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "audit.db"
        with AuditStore(db, password_hasher=OUTDATED) as old:
            old.create_user("olga", password=PW, role="viewer")
        with AuditStore(db, sign_in_limits=limits) as store:
            store.create_user("nina", password=PW, role="viewer")
            _wrong(store, "nina")  # warm-up
            for name, kind in (("nina", "current hash"), ("olga", "outdated hash"), ("nobody", "unknown user")):
                times = [_wrong(store, name) for _ in range(args.repeats)]
                print(f"wrong password, {kind:<13}: median {statistics.median(times) * 1000:6.0f} ms "
                      f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, n={len(times)})")
            print(f"16 parallel wrong passwords: peak RSS {_parallel_peak_mb(store):.0f} MB above the "
                  "RSS before (at most 4 hashes at once x 64 MiB)")


if __name__ == "__main__":
    main()
