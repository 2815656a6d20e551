"""The speaker's consent as the CLI takes it, and ``narrator consent-statement``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from shared.consent import statement


@dataclass(frozen=True)
class LocalConsent:
    """The speaker's consent as the CLI takes it: a recording of them reading the statement
    for their name and the company (``narrator consent-statement`` prints it)."""

    recording: Path
    speaker: str
    company: str

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LocalConsent:
        if not (args.consent and args.speaker and args.company):
            raise SystemExit("narrator: cloning needs the speaker's consent: --consent RECORDING --speaker NAME "
                             "--company NAME (see `narrator consent-statement`)")
        return cls(Path(args.consent), args.speaker, args.company)

    def statement(self, language: str) -> str:
        return statement(language, self.speaker, self.company, None)


def run(args: argparse.Namespace) -> int:
    """``narrator consent-statement``: print what the speaker reads."""
    print(LocalConsent(Path("-"), args.speaker, args.company).statement(args.language))
    return 0
