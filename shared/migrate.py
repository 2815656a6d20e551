"""Run Alembic programmatically: the one way a schema is made, in every mode.

``migrate`` is what ``narrator migrate`` does: upgrade as the schema owner
(``migration_database_url``, else ``database_url``), grant the services' role its rows
(shared/db_roles.py) when it is another role, and sign a checkpoint of the audit chain when
the checkpoint key is given (shared/audit_anchor.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.audit_anchor import write_checkpoint
from shared.db import make_engine, make_sessionmaker
from shared.db_roles import separate_roles, set_up_services_role, user_of
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger(__name__)


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raise if the models and the migrations disagree."""
    command.check(alembic_config(database_url))


@dataclass(frozen=True)
class Migrated:
    owner_url: str
    services_role: str | None  # granted rows only; None when one role does everything
    checkpoint_id: int | None  # the audit checkpoint signed now, if any


def migrate(settings: Settings) -> Migrated:
    owner_url = settings.migration_database_url or settings.database_url
    upgrade(owner_url)
    engine = make_engine(owner_url)
    try:
        services_role = None
        if separate_roles(settings.database_url, settings.migration_database_url):
            with engine.begin() as conn:
                set_up_services_role(conn, settings.database_url)
            services_role = user_of(settings.database_url)
        elif owner_url.startswith("postgresql"):
            log.warning("one database role migrates and runs the services: it owns the tables and can drop the "
                        "audit trigger; set NARRATOR_MIGRATION_DATABASE_URL to the owner and "
                        "NARRATOR_DATABASE_URL to a role of its own")
        checkpoint_id = None
        if settings.audit_hmac_key:
            with make_sessionmaker(engine).begin() as s:
                checkpoint = write_checkpoint(s, settings.audit_hmac_key)
                checkpoint_id = checkpoint.id if checkpoint is not None else None
        else:
            log.warning("NARRATOR_AUDIT_HMAC_KEY is not set: no audit checkpoint signed; the audit chain is "
                        "not anchored against a rewrite and re-hash")
    finally:
        engine.dispose()
    return Migrated(owner_url, services_role, checkpoint_id)
