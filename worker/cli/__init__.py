"""The ``narrator`` command: one subcommand per job, each in its own module.

``main`` parses the arguments (the tree is in ``worker.cli.parser``) and runs the chosen
subcommand's handler, named ``"module:function"`` inside this package. That module is
imported only once its subcommand is chosen (as pip loads its commands): most of them load
the model stack or the API on import, which ``narrator --help`` or a mistyped option should
not wait for. ``render`` and ``say`` run on the embedded default (SQLite, a local folder,
tasks in process) through exactly the code a distributed worker runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from shared.errors import NarratorError
from shared.logs import configure_logging
from shared.secret_keys import WeakSecret
from worker.cli.parser import SERVICES, build_parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    service = args.command in SERVICES
    configure_logging(os.environ.get("NARRATOR_LOG_LEVEL", "INFO" if service else "WARNING"))
    try:
        return run(args)
    except NarratorError as exc:
        print(f"narrator: {exc.reason}", file=sys.stderr)
        return 2
    except WeakSecret as exc:  # a service refusing to start: say which variable, not a traceback
        print(f"narrator: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    """Import the chosen subcommand's module and run its handler; its result is the exit status."""
    module_name, _, function = args.handler.partition(":")
    module = importlib.import_module(f"worker.cli.{module_name}")
    return int(getattr(module, function)(args) or 0)
