"""The deployment's operator: keys that belong to no tenant, and the consent review they own.

A consent in a language speech recognition cannot check (``needs_review``) is approved or
rejected by a person who listens. That person must not be the tenant: a tenant that could
approve its own consents could record anyone's voice under a language nobody checks, approve
it, and clone the speaker. So review belongs to the operator of the deployment, whose keys
are made on the command line (``narrator admin create-operator-key``), shown once and kept
as a SHA-256 hash like tenant keys. Every verdict is audited with the operator key's prefix.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.audit import record
from shared.consent import review_consent
from shared.errors import Conflict, InvalidInput, NotFound
from shared.models import Consent, ConsentStatus, OperatorKey, utcnow
from shared.security import OPERATOR_TAG, generate_key, matches, parse_prefix


def actor_of(key: OperatorKey) -> str:
    """How an operator appears in the audit trail and on a reviewed consent."""
    return f"operator:{key.prefix}"


def create_operator_key(session: Session, name: str, actor: str = "cli") -> tuple[OperatorKey, str]:
    """A new operator key; the secret is returned here once and never stored."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("the operator key's name (who holds it) must be 1–200 characters", field="name")
    new = generate_key(OPERATOR_TAG)
    key = OperatorKey(prefix=new.prefix, key_hash=new.key_hash, name=name, created_at=utcnow())
    session.add(key)
    session.flush()
    record(session, None, actor, "operator_key.created", "operator_key", key.id, prefix=new.prefix, name=name)
    return key, new.secret


def revoke_operator_key(session: Session, prefix: str, actor: str = "cli") -> OperatorKey:
    key = session.scalar(select(OperatorKey).where(OperatorKey.prefix == prefix))
    if key is None:
        raise NotFound(f"no operator key with prefix {prefix!r}")
    if key.revoked_at is not None:
        raise Conflict(f"operator key {prefix!r} is already revoked")
    key.revoked_at = utcnow()
    session.flush()
    record(session, None, actor, "operator_key.revoked", "operator_key", key.id, prefix=prefix)
    return key


def operator_for_secret(session: Session, secret: str) -> OperatorKey | None:
    """The live operator key this secret is, or None (unknown, revoked, malformed)."""
    prefix = parse_prefix(secret, OPERATOR_TAG)
    if prefix is None:
        return None
    key = session.scalar(select(OperatorKey).where(OperatorKey.prefix == prefix))
    if key is None or key.revoked_at is not None or not matches(secret, key.key_hash):
        return None
    return key


def live_operator(session: Session, key_id: str) -> OperatorKey | None:
    """An operator key checked earlier (the console's session), if it is still live."""
    key = session.get(OperatorKey, key_id)
    return key if key is not None and key.revoked_at is None else None


def review_queue(session: Session, status: str = ConsentStatus.needs_review.value, limit: int = 500) -> list[Consent]:
    """Consents of every tenant in ``status`` (the review queue by default), oldest first."""
    return list(session.scalars(select(Consent).where(Consent.status == status)
                                .order_by(Consent.created_at).limit(limit)))


def decide(session: Session, key: OperatorKey, consent_id: str, *, approve: bool, note: str | None) -> Consent:
    """The operator's verdict on a consent waiting for review; audited under the operator's prefix
    (``consent.approved`` / ``consent.rejected``, with the consent's tenant)."""
    consent = session.get(Consent, consent_id, with_for_update=True)
    if consent is None:
        raise NotFound(f"no consent {consent_id!r}")
    review_consent(session, consent, approve=approve, actor=actor_of(key), note=note)
    return consent
