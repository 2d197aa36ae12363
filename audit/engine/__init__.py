"""Where work runs: this process, or a Dask cluster (the same numbers either way).

``cluster`` chooses and connects the engine, ``frames`` reads partitioned Parquet/CSV with a
schema check per file, ``population`` computes every-row statistics per partition and sums them.
"""
