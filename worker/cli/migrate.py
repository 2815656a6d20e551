"""``narrator migrate``: the schema to head, as its owner."""

from __future__ import annotations

import argparse

from shared.migrate import migrate
from worker.cli.options import settings_for


def run(args: argparse.Namespace) -> int:
    """Upgrade as the schema owner, grant the services' role its rows, sign an audit checkpoint."""
    done = migrate(settings_for(args))
    print(f"database at head: {done.owner_url.split('@')[-1]}")
    if done.services_role:
        print(f"services' role {done.services_role}: rows only (audit_events: insert and select)")
    if done.checkpoint_id is not None:
        print(f"audit checkpoint {done.checkpoint_id} signed")
    return 0
