"""The ``narrator`` command's argument tree.

Every option is declared here, light to import, so that parsing (and ``--help``) loads no
subcommand's module; each subcommand names its handler as ``"module:function"`` in
``worker.cli`` (``worker.cli.run`` imports it once chosen).
"""

from __future__ import annotations

import argparse

from shared.audio_types import FILE_FORMATS
from worker.cli.options import add_consent_args, speed_arg

SERVICES = ("api", "worker", "beat", "migrate")  # long-running: they log at INFO by default
WORKER_QUEUES = "housekeeping,interactive,purge,webhooks,enroll,synth,finetune"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="narrator", description="Consented voice cloning and batch narration.")
    p.add_argument("--data-dir", help="embedded mode's folder (default ~/.local/share/narrator)")
    sub = p.add_subparsers(dest="command", required=True)
    _add_cloning(sub)
    _add_tools(sub)
    _add_services(sub)
    _add_admin(sub)
    _add_audit(sub)
    return p


def _add_cloning(sub: argparse._SubParsersAction) -> None:
    """render, say, enroll, consent-statement: the commands that clone a consenting speaker's voice."""
    r = sub.add_parser("render", help="render a catalogue CSV in a cloned voice into a folder (embedded)")
    r.add_argument("catalog")
    r.add_argument("--reference", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--language", default="zh", choices=["zh", "en"])
    r.add_argument("--speed", type=speed_arg, default=1.0)
    r.add_argument("--format", default="wav", choices=FILE_FORMATS, help="each item's file (default: wav)")
    add_consent_args(r)
    r.set_defaults(handler="render:run")

    s = sub.add_parser("say", help="speak one text in a voice")
    s.add_argument("text")
    s.add_argument("--reference")
    s.add_argument("--voice", help="a voice file (narrator enroll), or a stock voice's name, e.g. zf_xiaoxiao")
    s.add_argument("-o", "--output", required=True, help="a WAV file, or - to stream WAV to stdout as it renders")
    s.add_argument("--language", choices=["zh", "en"],
                   help="override the reference's language (else Whisper hears it; the text's own languages "
                        "are always read from the text)")
    s.add_argument("--speed", type=speed_arg, default=1.0)
    s.add_argument("--check", action="store_true",
                   help="run the batch path's quality gate (speech recognition, speaker similarity, best of N)")
    s.add_argument("--no-check", action="store_false", dest="check", help="skip the gate (the default)")
    add_consent_args(s)
    s.set_defaults(handler="say:run")

    e = sub.add_parser("enroll", help="turn a reference recording into a voice file")
    e.add_argument("reference")
    e.add_argument("-o", "--output", required=True)
    e.add_argument("--language", default="zh", choices=["zh", "en"])
    add_consent_args(e)
    e.set_defaults(handler="enroll:run")

    cs = sub.add_parser("consent-statement", help="print the statement a speaker reads to consent (CLI form)")
    cs.add_argument("--speaker", required=True)
    cs.add_argument("--company", required=True)
    cs.add_argument("--language", default="zh", choices=["zh", "en"])
    cs.set_defaults(handler="consent:run")


def _add_tools(sub: argparse._SubParsersAction) -> None:
    """qa, text: what the frontend and the reference check make of an input."""
    q = sub.add_parser("qa", help="print the reference-audio quality report")
    q.add_argument("reference")
    q.add_argument("--language", choices=["zh", "en"],
                   help="the voice's language: also check that the recording is spoken in it")
    q.set_defaults(handler="qa:run")

    t = sub.add_parser("text", help="show how the frontend reads a text (one per stdin line without TEXT)")
    t.add_argument("text", nargs="?")
    t.add_argument("--json", action="store_true")
    t.add_argument("--lexicon", metavar="FILE.csv", help="apply a lexicon CSV (word,reading,language,voice_id)")
    t.set_defaults(handler="text:run")


def _add_services(sub: argparse._SubParsersAction) -> None:
    """api, worker, beat, migrate, models: the deployment's processes and their set-up."""
    a = sub.add_parser("api", help="serve the HTTP API")
    a.add_argument("--host", default="127.0.0.1")
    a.add_argument("--port", type=int, default=8000)
    a.set_defaults(handler="serve:api")

    w = sub.add_parser("worker", help="run a Celery worker")
    w.add_argument("--queues", default=WORKER_QUEUES,
                   help="consumed in this order: an earlier queue's tasks go first")
    w.add_argument("--concurrency", type=int, default=1)
    w.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
    w.add_argument("--hostname")
    w.set_defaults(handler="celery_worker:run")

    b = sub.add_parser("beat", help="run the Celery beat scheduler")
    b.set_defaults(handler="serve:beat")

    m = sub.add_parser("migrate", help="upgrade the schema to head as its owner; grant the services' role rows")
    m.set_defaults(handler="migrate:run")

    models = sub.add_parser("models", help="model files")
    msub = models.add_subparsers(dest="models_cmd", required=True)
    f = msub.add_parser("fetch", help="put the model files into the cache (set-up time)")
    f.add_argument("--bank", action="store_true", help="also embed the stock voices (takes a minute or two)")
    f.set_defaults(handler="model_files:fetch")


def _add_admin(sub: argparse._SubParsersAction) -> None:
    adm = sub.add_parser("admin", help="tenants, API keys and operator keys")
    asub = adm.add_subparsers(dest="admin_cmd", required=True)
    ct = asub.add_parser("create-tenant")
    ct.add_argument("name")
    ck = asub.add_parser("create-key")
    ck.add_argument("tenant")
    ck.add_argument("--scope", default="write", choices=["read", "write", "admin"])
    rk = asub.add_parser("revoke-key")
    rk.add_argument("prefix")
    rot = asub.add_parser("rotate-key", help="a new key with the same tenant and scope; the old one is revoked")
    rot.add_argument("prefix")
    rot.add_argument("--grace", type=int, default=0, metavar="SECONDS",
                     help="keep the old key working this long, so clients can switch over")
    cok = asub.add_parser("create-operator-key",
                          help="a key of the deployment's operator (no tenant): reviews consents no machine can check")
    cok.add_argument("name", help="who holds it (shown in the audit trail's operator_key.created row)")
    rok = asub.add_parser("revoke-operator-key")
    rok.add_argument("prefix")
    adm.set_defaults(handler="admin:run")


def _add_audit(sub: argparse._SubParsersAction) -> None:
    """audit, watermark: what shows tampering with the trail, and where a file came from."""
    au = sub.add_parser("audit", help="the audit trail")
    ausub = au.add_subparsers(dest="audit_cmd", required=True)
    av = ausub.add_parser("verify", help="check the audit hash chain; prints JSON, exit 1 if broken")
    av.set_defaults(handler="audit:verify")
    ac = ausub.add_parser("checkpoint", help="sign the chain's head with NARRATOR_AUDIT_HMAC_KEY (as the owner)")
    ac.set_defaults(handler="audit:checkpoint")
    wm = sub.add_parser("watermark", help="the inaudible mark in every rendered file")
    wmsub = wm.add_subparsers(dest="watermark_cmd", required=True)
    wd = wmsub.add_parser("detect", help="which item a file came from; prints JSON, exit 1 if unmarked")
    wd.add_argument("file")
    wd.set_defaults(handler="watermark:detect")
