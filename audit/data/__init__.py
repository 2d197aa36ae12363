"""Data intake: read a table (``read``), then validate it and infer its schema (``schema``).

``load_table`` turns bytes into a DataFrame; ``prepare_dataset`` / ``load_dataset``
give a :class:`Dataset`. Both raise :class:`audit.errors.DataError` with a message a
data scientist can act on.
"""

from audit.data.read import file_sha256, frame_sha256, load_table, parse_table, read_source
from audit.data.schema import ColumnSchema, Dataset, align_current, load_dataset, prepare_dataset

__all__ = ["ColumnSchema", "Dataset", "align_current", "file_sha256", "frame_sha256", "load_dataset",
           "load_table", "parse_table", "prepare_dataset", "read_source"]
