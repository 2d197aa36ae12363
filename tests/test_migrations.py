"""The store's Alembic migrations form one linear chain: parallel work that adds two
migrations on the same parent would leave two heads, and `upgrade head` would fail."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parents[1] / "audit" / "store" / "migrations"


def test_one_head_and_a_linear_history():
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    assert len(script.get_heads()) == 1, f"several migration heads: {script.get_heads()}"
    revs = list(script.walk_revisions())
    assert revs[-1].down_revision is None
    assert all(isinstance(r.down_revision, str) for r in revs[:-1]), "a merge or branch point in the migrations"
    files = sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py"))
    assert len(files) == len(revs)
