"""CPU seconds of the slowest parts of a small-data audit (issue 15), for before/after comparisons.

    python bench/bench_speed.py [csv] [target] [sensitive,...]

Defaults to German credit (../shared/data/german_credit.csv, credit_risk, sex,age). Prints the CPU
seconds (``time.process_time``, this process only, so a loaded machine inflates them less than wall
time) of the privacy section and of the spent epsilons it reports, so two code versions can be run
back to back with the same data and seed and compared.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.data import load_dataset  # noqa: E402
from audit.models import train_models  # noqa: E402
from audit.sections.privacy import audit_privacy  # noqa: E402


def main(argv: list[str]) -> None:
    path = argv[0] if argv else str(ROOT.parent / "shared" / "data" / "german_credit.csv")
    target = argv[1] if len(argv) > 1 else "credit_risk"
    sensitive = tuple((argv[2] if len(argv) > 2 else "sex,age").split(","))
    ds = load_dataset(path, target=target, sensitive=sensitive, seed=0)
    trained = train_models(ds, seed=0)
    import art  # noqa: F401  imports are not the section's work
    import opacus  # noqa: F401

    t = time.process_time()
    rep = audit_privacy(trained, seed=0)
    cpu = time.process_time() - t
    print(f"privacy section: {cpu:.2f} CPU s")
    for m in rep.dp_models():
        print(f"  {m.name}: sigma {m.noise_multiplier!r} epsilon spent {m.epsilon_spent!r} accuracy {m.accuracy:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
