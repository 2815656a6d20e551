"""Alembic is the only way a schema is made: the models and migrations must agree."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from shared.db import make_engine
from shared.migrate import check, upgrade
from shared.models import Base


def test_fresh_postgres_upgrades_to_head_and_matches_the_models(fresh_pg_database: str) -> None:
    upgrade(fresh_pg_database)
    check(fresh_pg_database)  # raises if autogenerate would emit any operation
    tables = set(inspect(make_engine(fresh_pg_database)).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_same_migrations_run_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'narrator.db'}"
    upgrade(url)
    check(url)
    assert "voice_versions" in inspect(make_engine(url)).get_table_names()
