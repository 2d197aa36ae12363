"""Regenerate the bad-input corpus (committed; run this only to change it)."""

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
rng = np.random.default_rng(0)


def rows(n, fn):
    return "\n".join(fn(i) for i in range(n)) + "\n"


def good_row(i):
    return f"{20 + i % 50},{'ab'[i % 2]},{'FM'[i % 3 % 2]},{i % 2}"


(HERE / "empty.csv").write_bytes(b"")
(HERE / "header_only.csv").write_text("age,colour,sex,label\n")
(HERE / "binary_garbage.csv").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
(HERE / "unparseable.csv").write_text("age,colour,sex,label\n1,a,F,0\n2,b,M,1,extra,fields\n3,a,F\n" * 1)
(HERE / "duplicate_columns.csv").write_text("age,sex,age,label\n" + rows(60, lambda i: f"{i},F,{i},{i % 2}"))
(HERE / "one_class.csv").write_text("age,colour,sex,label\n" + rows(60, lambda i: f"{i},a,{'FM'[i % 2]},1"))
(HERE / "mostly_missing_target.csv").write_text(
    "age,colour,sex,label\n" + rows(60, lambda i: f"{i},a,{'FM'[i % 2]},{i % 2 if i % 4 == 0 else ''}")
)
(HERE / "too_many_classes.csv").write_text(
    "age,colour,sex,label\n" + rows(120, lambda i: f"{i % 50},{'abc'[i % 3]},{'FM'[i % 2]},c{i % 24:02d}")
)
(HERE / "no_usable_feature.csv").write_text(
    "customer_id,email,sex,label\n" + rows(60, lambda i: f"C{i:04d},user{i}@example.com,{'FM'[i % 2]},{i % 2}")
)
(HERE / "unknown_column.csv").write_text("age,colour,sex,label\n" + rows(60, good_row))
(HERE / "too_big.csv").write_text("age,colour,sex,label\n" + rows(30000, good_row))
(HERE / "small_group.csv").write_text(
    "age,colour,sex,label\n" + rows(200, lambda i: f"{i % 60},{'ab'[i % 2]},{'X' if i < 5 else 'FM'[i % 2]},{(i // 2) % 2}")
)
(HERE / "corrupt.parquet").write_bytes(b"PAR1" + rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
(HERE / "corrupt.xlsx").write_bytes(b"PK\x03\x04" + rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
(HERE / "corrupt.csv.gz").write_bytes(b"\x1f\x8b\x08\x00" + rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
