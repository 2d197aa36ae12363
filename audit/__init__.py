"""Responsible-AI audit core: data, baseline models, and audit sections.

This package never imports streamlit; the dashboard renders what it computes.
"""

import os as _os

# OpenMP threads (scikit-learn's gradient boosting, torch) spin while they wait for work by default.
# When their cores are busy (two sections in parallel here, or other processes on the machine) the
# spinning steals those cores: fitting the Adult baselines took 216 s wall and 153 CPU-s at load
# average 4.6 on 2 cores, and 10 s / 12 CPU-s with passive waiting (bench/README.md, issue 15).
# The policy is read when the OpenMP runtime loads, so it is set before anything imports it;
# a value the user set wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
