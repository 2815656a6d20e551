"""Consent before cloning: the speaker signs, then reads a statement the server generated.

The statement names the speaker and the company and carries a one-time code, so a
recording made for another consent (or an old one) cannot be replayed. Verification
(worker side) checks the recording says the statement; enrollment checks the reference
is the same voice as the consent recording.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.orm import Session

from shared.audit import record
from shared.errors import Conflict, InvalidInput, NotFound
from shared.models import Consent, ConsentStatus

ZH_DIGITS = "零一二三四五六七八九"


class ConsentRequired(Conflict):
    code = "consent_required"


def one_time_code() -> str:
    # No 0, 1 or 9: speech recognition confuses them most (1 with 是, 9 dropped) in both languages.
    return "".join(secrets.choice("2345678") for _ in range(4))


def statement(language: str, speaker: str, company: str, code: str | None) -> str:
    """The words the speaker reads. ``code=None`` only for the local CLI, where the operator
    holds the recording and replay across consents is not a threat."""
    if language == "zh":
        text = f"我是{speaker}，我同意{company}使用我的声音录音来制作合成语音。"
        return text + (f"我的验证码是{''.join(ZH_DIGITS[int(d)] for d in code)}。" if code else "")
    text = f"My name is {speaker}. I agree that {company} may use recordings of my voice to create a synthetic voice."
    return text + (f" My code is {' '.join(code)}." if code else "")


def key_phrases(speaker: str, company: str, code: str | None) -> list[str]:
    """What a consent recording must contain word for word: a small error rate over the whole
    statement would still let another name through."""
    return [speaker, company, *([code] if code else [])]


def signature_matches(signature: str, speaker_name: str) -> bool:
    """The typed-name e-signature must be the speaker's own name (spacing and case aside)."""
    def norm(s: str) -> str:
        return "".join(s.split()).casefold()

    return norm(signature) == norm(speaker_name)


def create_consent(
    session: Session, tenant_id: str, *, speaker_name: str, company_name: str, agreement_version: str,
    agreement_text: str, signature: str, language: str, client_ip: str | None, user_agent: str | None, actor: str,
) -> Consent:
    if not signature_matches(signature, speaker_name):
        raise InvalidInput("the signature must be the speaker's full name, typed by the speaker", field="signature")
    code = one_time_code()
    consent = Consent(
        tenant_id=tenant_id, code=code, speaker_name=speaker_name, company_name=company_name,
        agreement_version=agreement_version, agreement_sha256=hashlib.sha256(agreement_text.encode()).hexdigest(),
        signature=signature, language=language,
        statement=statement(language, speaker_name, company_name, code),
        status=ConsentStatus.awaiting_recording.value, client_ip=client_ip, user_agent=user_agent,
    )
    session.add(consent)
    session.flush()
    record(session, tenant_id, actor, "consent.given", "consent", consent.id, agreement_version=agreement_version,
           agreement_sha256=consent.agreement_sha256, client_ip=client_ip)
    return consent


def usable_consent(session: Session, tenant_id: str, consent_id: str | None) -> Consent:
    """The consent a new voice may be built on: this tenant's, verified and not revoked."""
    if not consent_id:
        raise ConsentRequired("a voice needs the speaker's verified consent: create one with POST /v1/consents, "
                              "upload the speaker reading its statement, then pass its id as 'consent_id'")
    consent = session.get(Consent, consent_id)
    if consent is None or consent.tenant_id != tenant_id:
        raise NotFound(f"no consent {consent_id!r}")
    if consent.status != ConsentStatus.verified.value or consent.revoked_at is not None:
        raise ConsentRequired(f"consent {consent_id!r} is {consent.status}, not verified: no voice can be cloned "
                              "from it")
    return consent
