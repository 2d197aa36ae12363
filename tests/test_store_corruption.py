"""A damaged SQLite store is one clear StoreError when it opens (issue 17 item 16, store side),
and a database error met later is a StoreError too, never a raw SQLAlchemy traceback."""

from __future__ import annotations

import random

import pytest
from argon2 import PasswordHasher

from audit.errors import StoreError
from audit.store.core import AuditStore

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _damaged_store(path):
    store = AuditStore(str(path), password_hasher=FAST)
    alice = store.create_user("alice", password="correct horse battery", role="reviewer")
    for i in range(30):
        store.create_audit(user=alice, dataset_name=f"d{i}.csv", dataset_sha256="0" * 64,
                           report_json='{"x": "' + "y" * 3000 + '"}')
    store.close()
    rng = random.Random(0)
    with path.open("r+b") as fh:  # scribble over every page but the first two (header and schema)
        for offset in range(8192, path.stat().st_size, 4096):
            fh.seek(offset + 100)
            fh.write(bytes(rng.randrange(256) for _ in range(300)))


def test_a_damaged_file_is_refused_at_open_in_one_line(tmp_path):
    path = tmp_path / "audit.db"
    _damaged_store(path)
    before = path.read_bytes()
    with pytest.raises(StoreError) as err:
        AuditStore(str(path), password_hasher=FAST)
    msg = str(err.value)
    assert "cannot open the audit database" in msg and "restore it from a backup" in msg
    assert "\n" not in msg and "SELECT" not in msg and "sqlalche.me" not in msg
    assert path.read_bytes() == before  # left as it was


def test_cli_names_the_damage_in_one_line(tmp_path, capsys):
    from audit.store.users_cli import main

    path = tmp_path / "audit.db"
    _damaged_store(path)
    assert main(["list-users", "--db", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot open the audit database" in err[0]


def test_damage_met_by_an_open_store_is_a_store_error(tmp_path):
    path = tmp_path / "audit.db"
    store = AuditStore(str(path), password_hasher=FAST)
    alice = store.create_user("alice", password="correct horse battery", role="reviewer")
    for i in range(30):
        store.create_audit(user=alice, dataset_name=f"d{i}.csv", dataset_sha256="0" * 64,
                           report_json='{"x": "' + "y" * 3000 + '"}')
    store.close()
    store = AuditStore(str(path), password_hasher=FAST)  # opens cleanly, then the file is damaged under it
    rng = random.Random(1)
    with path.open("r+b") as fh:
        for offset in range(8192, path.stat().st_size, 4096):
            fh.seek(offset + 100)
            fh.write(bytes(rng.randrange(256) for _ in range(300)))
    with pytest.raises(StoreError, match="the audit database could not be used") as err:
        store._engine.dispose()  # drop cached pages so the next read goes to the file
        for a in store.list_audits(user=alice):
            store.get_audit(a.id, user=alice)
    assert "\n" not in str(err.value)
    store.close()
