"""Options several subcommands share, and the settings a subcommand runs with.

Kept free of heavy imports: the argument tree uses it before any subcommand is chosen.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shared.settings import Settings


def settings_for(args: argparse.Namespace, embedded: bool = False) -> Settings:
    """The environment's settings, with ``--data-dir`` applied; ``embedded`` forces the
    embedded mode (no broker) for the subcommands that always run in process."""
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir).expanduser().resolve()
    settings = Settings.from_env(**overrides)
    if embedded and not settings.embedded:
        settings = settings.with_(broker_url="")
    return settings


def speed_arg(value: str) -> float:
    """--speed as the engine accepts it: refused at the command line, not as a traceback mid-render."""
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.5 <= speed <= 2.0:
        raise argparse.ArgumentTypeError("speed must be between 0.5 and 2.0")
    return speed


def add_consent_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--consent", help="recording of the speaker reading the consent statement")
    p.add_argument("--speaker", help="the speaker's full name, as in the statement")
    p.add_argument("--company", help="the company the speaker consents to, as in the statement")
