"""Schema migrations: a data dir made by an older keylab opens in this one with nothing lost."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from keylab.sandbox import store as store_module
from keylab.sandbox.classroom.roster import RosterEntry
from keylab.sandbox.classroom.students import create_class
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store


def test_a_class_made_before_student_control_gets_its_tenants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """0008: the students of a class sandbox made by an older keylab can stage their own lessons."""
    every = store_module.migrations()
    monkeypatch.setattr(store_module, "migrations", lambda: [m for m in every if m[0] < 8])
    with Store(tmp_path) as old:
        old.conn.execute("INSERT INTO users (id, email, name, created_at) VALUES ('user-a', 'a@x.example', 'a', 0)")
        old.conn.execute("INSERT INTO organizations (id, name, owner_user_id, created_at)"
                         " VALUES ('org-student', 'A', 'user-a', 0), ('org-other', 'B', 'user-a', 0)")
        old.conn.execute("INSERT INTO projects (id, org_id, name, created_at, is_default)"
                         " VALUES ('proj_a', 'org-student', 'Default project', 0, 1)")
        old.conn.execute("INSERT INTO classroom_students (email, name, user_id, org_id, project_id, key_id,"
                         " budget_cents, created_at) VALUES ('a@x.example', 'A', 'user-a', 'org-student', 'proj_a',"
                         " 'key_a', 200, 0)")
    monkeypatch.setattr(store_module, "migrations", lambda: every)
    with Store(tmp_path) as new:
        tenants = {row[0]: row[1] for row in new.query("SELECT id, tenant_id FROM organizations")}
        assert tenants == {"org-student": "org-student", "org-other": None}
        assert new.query_one("SELECT version FROM schema_version")[0] == every[-1][0]


def test_a_new_class_student_is_their_own_tenant(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        [student] = create_class(store, Clock(store), [RosterEntry("Ada", "ada@x.example", 2)], budget_usd=Decimal(1))
        row = store.query_one("SELECT tenant_id FROM organizations WHERE id = ?", (student.organization_id,))
        assert row[0] == student.organization_id
