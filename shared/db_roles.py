"""Two PostgreSQL roles: the owner that migrates, and the services' role that only reads and writes rows.

The owner of a table can drop it, alter it, and disable or drop its triggers, the audit
trail's append-only trigger included. So the API, workers and beat connect as a role that
owns nothing: ``NARRATOR_DATABASE_URL`` names it, and ``NARRATOR_MIGRATION_DATABASE_URL``
names the owner, used only by ``narrator migrate`` (and ``narrator audit checkpoint``).
After each upgrade the migration grants the services' role exactly what the code needs:
SELECT, INSERT, UPDATE, DELETE on the tables, the sequences, and on ``audit_events`` SELECT
and INSERT only; ``audit_checkpoints`` and ``alembic_version`` are read-only to it. It is
created (LOGIN, with the password in its URL) when it does not exist and the owner may
create roles, as in the compose file; a managed database creates it beforehand.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from shared.errors import NarratorError

log = logging.getLogger(__name__)

APPEND_ONLY = ("audit_events",)  # the services append rows and read them
READ_ONLY = ("audit_checkpoints", "alembic_version")  # written by the owner alone


class RoleSetupError(NarratorError):
    code = "database_roles"
    status = 500


def user_of(url: str) -> str | None:
    return make_url(url).username


def password_of(url: str) -> str | None:
    return make_url(url).password  # type: ignore[return-value]


def separate_roles(database_url: str, migration_url: str) -> bool:
    """Is the services' role another role than the one that migrates (on PostgreSQL)?"""
    if not migration_url or not database_url.startswith("postgresql"):
        return False
    return user_of(database_url) not in (None, user_of(migration_url))


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def ensure_role(conn: Connection, role: str, password: str | None) -> bool:
    """Create the services' login role if it does not exist; True when it was created."""
    if conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
        return False
    if not conn.scalar(text("SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user")):
        raise RoleSetupError(f"the database role {role!r} (NARRATOR_DATABASE_URL) does not exist and the migrating "
                             "role may not create roles: create it (LOGIN, no other attribute) and migrate again")
    statement = f"CREATE ROLE {_quote(conn, role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
    if password:
        statement += " PASSWORD " + _string_literal(password)
    conn.execute(text(statement))
    log.info("created database role %s for the services", role)
    return True


def _string_literal(value: str) -> str:
    """A standard SQL string literal (CREATE ROLE takes no bind parameters)."""
    return "'" + value.replace("'", "''") + "'"


def check_least_privilege(conn: Connection, role: str) -> None:
    """Refuse a services' role that could undo what the grants promise: a superuser, a role
    that may create roles, or one that owns a table (as the single role of an older deployment
    does: ``REASSIGN OWNED BY <it> TO <owner>`` first)."""
    attrs = conn.execute(text("SELECT rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = :r"),
                         {"r": role}).one()
    if any(attrs):
        raise RoleSetupError(f"the services' database role {role!r} is a superuser or may create roles or bypass "
                             "row security: it must be a plain LOGIN role")
    owned = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = :r "
                              "ORDER BY tablename"), {"r": role}).all()
    if owned:
        raise RoleSetupError(f"the services' database role {role!r} owns {', '.join(owned)}: run "
                             f"REASSIGN OWNED BY {role} TO <the migrating role> and migrate again")


def grant_services(conn: Connection, role: str) -> None:
    """Rows only: the grants above, applied again after every upgrade (new tables included)."""
    r = _quote(conn, role)
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {r}"))
    conn.execute(text(f"REVOKE CREATE ON SCHEMA public FROM {r}"))
    conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}"))
    conn.execute(text(f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {r}"))
    for table in APPEND_ONLY:
        conn.execute(text(f"REVOKE UPDATE, DELETE ON {_quote(conn, table)} FROM {r}"))
    for table in READ_ONLY:
        conn.execute(text(f"REVOKE INSERT, UPDATE, DELETE ON {_quote(conn, table)} FROM {r}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {r}"))


def set_up_services_role(conn: Connection, database_url: str) -> None:
    """Create (if need be), check and grant the services' role named by ``database_url``."""
    role = user_of(database_url)
    assert role is not None
    ensure_role(conn, role, password_of(database_url))
    check_least_privilege(conn, role)
    grant_services(conn, role)
