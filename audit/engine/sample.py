"""A table too large for one process, read on the cluster and sampled there.

The model fitting and the sampled sections run on a stratified sample drawn on the
cluster (each partition keeps each row of class c with probability f_c, from a
generator seeded by (seed, partition number), so the sample is reproducible for a given
seed and partitioning); only the sample travels to this process. Its size and the
table's full row count are stated in the report.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audit.data.columns import count_labelled
from audit.engine.frames import PartitionedSource, csv_types, inspect_source, read_partitioned
from audit.errors import DataError

MIN_PER_CLASS = 200  # a rare class keeps at least this many rows (all of them when it has fewer)


@dataclass(frozen=True)
class ClusterSample:
    frame: pd.DataFrame
    name: str
    sha256: str
    rows_total: int
    files: int
    rows_labelled: int = 0  # rows with a target: the sample is every row when it holds all of these
    partition_labelled: tuple[int, ...] = ()  # of every partition, in order (the bootstrap's row numbers)


@dataclass(frozen=True, eq=False)
class ClusterRows:
    """Where every row of an audit's table is: ``source`` read on the cluster of ``client``.

    Sections that report on every row (``audit.sections.population``) read it again there;
    ``engine`` is the engine's label for the report, ``rows_total`` the table's row count.
    """

    source: str
    client: object
    engine: str
    rows_total: int
    files: int
    partition_labelled: tuple[int, ...] = ()  # counted while sampling; empty: count them again


def source_fingerprint(src: PartitionedSource) -> str:
    """A content fingerprint of a partitioned table without reading its rows.

    Parquet: every file's footer (schema, row counts and column statistics); CSV: size,
    first and last 64 KiB of every file. Hashing 10 million rows would cost more than
    the audit's own pass; the footer changes whenever the data does.
    """
    h = hashlib.sha256()
    for f in src.files:
        p = Path(f)
        h.update(p.name.encode() + b"\x00" + str(p.stat().st_size).encode())
        with p.open("rb") as fh:
            if src.format == "parquet":
                fh.seek(-8, 2)
                footer_len = int.from_bytes(fh.read(4), "little")
                fh.seek(-(8 + footer_len), 2)
                h.update(fh.read(footer_len))
            else:
                h.update(fh.read(65536))
                fh.seek(max(0, p.stat().st_size - 65536))
                h.update(fh.read(65536))
    return h.hexdigest()


def _keep(part: pd.DataFrame, fractions: dict, target: str, seed: int, number: int) -> tuple[pd.DataFrame, int]:
    """The partition's sampled rows and its count of labelled rows.

    The count is taken here, while the partition is read anyway, so that the every-row
    statistics need no pass of their own to number the rows (that pass read every file once
    more and, queued behind the sampled sections' tasks, held up scoring by a minute at 10M rows)."""
    rng = np.random.default_rng([seed, number])
    frac = part[target].astype(str).map(fractions).fillna(0.0).to_numpy(dtype=float)
    return part[rng.random(len(part)) < frac], count_labelled(part, target)


def sample_on_cluster(source: str | Path, client, *, target: str, rows: int, seed: int) -> ClusterSample:
    """Read ``source`` on the cluster and bring back a stratified sample of about ``rows`` rows."""
    import dask

    src = inspect_source(source)
    if target not in src.columns:
        raise DataError(f"target column {target!r} is not in {source}; columns are: {', '.join(src.columns[:30])}")
    ddf = read_partitioned(source)
    # value_counts leaves out missing targets; the table's row count includes them.
    with csv_types(source):  # reading every row: where a CSV value of another type shows
        counts_f, size_f = client.compute([ddf[target].astype(str).value_counts(), ddf[target].size])
        counts, rows_total = counts_f.result(), int(size_f.result())
        total = int(counts.sum())
        if total == 0:
            raise DataError(f"{source} has no rows with a target" if rows_total else f"{source} has no rows")
        share = min(1.0, rows / total)
        fractions = {k: min(1.0, max(share, MIN_PER_CLASS / v)) for k, v in counts.items()}
        parts = [dask.delayed(_keep)(p, fractions, target, seed, i) for i, p in enumerate(ddf.to_delayed())]
        kept = client.gather(client.compute(parts))
    frame = pd.concat([f for f, _ in kept], ignore_index=True)
    name = Path(str(source)).name or str(source)
    return ClusterSample(frame, name, source_fingerprint(src), rows_total, len(src.files), total,
                         tuple(int(n) for _, n in kept))


def _keep_share(part: pd.DataFrame, share: float, seed: int, number: int) -> pd.DataFrame:
    rng = np.random.default_rng([seed, number])
    return part[rng.random(len(part)) < share]


def simple_sample_on_cluster(source: str | Path, client, *, rows: int, seed: int) -> ClusterSample:
    """A simple random sample of about ``rows`` rows of ``source`` (a current table, which need not
    hold the target), each row kept with one probability by a generator seeded by (seed, partition)."""
    import dask

    src = inspect_source(source)
    ddf = read_partitioned(source)
    with csv_types(source):  # reading every row: where a CSV value of another type shows
        total = int(sum(client.compute(ddf.map_partitions(len)).result()))
        if total == 0:
            raise DataError(f"{source} has no rows")
        share = min(1.0, rows / total)
        parts = client.compute([dask.delayed(_keep_share)(p, share, seed, i) for i, p in enumerate(ddf.to_delayed())])
        frame = pd.concat(client.gather(parts), ignore_index=True)
    return ClusterSample(frame, Path(str(source)).name or str(source), source_fingerprint(src), total, len(src.files), total)


__all__ = ["ClusterRows", "ClusterSample", "sample_on_cluster", "simple_sample_on_cluster", "source_fingerprint"]
