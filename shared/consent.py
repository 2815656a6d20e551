"""Consent before cloning: the speaker signs, then reads a statement the server generated.

The statement names the speaker and the company and carries a one-time code, so a
recording made for another consent (or an old one) cannot be replayed. Verification
(worker side) checks the recording says the statement; enrollment checks the reference
is the same voice as the consent recording. A recording in a language the bundled
speech recognizer cannot check waits for the deployment's operator to listen
(``needs_review``; shared.operators), never for the tenant, and approval is as good as
verification. A voice is built only on a consent given in its own language: the speaker
agreed to, and was checked in, that language.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import Session

from shared.audit import record
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.models import Consent, ConsentStatus, utcnow

ZH_DIGITS = "零一二三四五六七八九"
# What verification by speech recognition is calibrated for: statement texts, key-phrase
# matching by sound and the error-rate limit exist for these (worker/tts/checks/asr.py scoring).
ASR_LANGUAGES = ("zh", "en")
# Consents in force: a voice may be cloned from them and rendered with.
USABLE = (ConsentStatus.verified.value, ConsentStatus.approved.value)
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class ConsentRequired(Conflict):
    code = "consent_required"


class ReviewByOperator(Forbidden):
    """A tenant tried to approve or reject a consent: that verdict is the operator's."""

    code = "operator_review_required"


class ConsentLanguageMismatch(InvalidInput):
    code = "consent_language_mismatch"


def base_language(tag: str) -> str:
    """``zh-CN`` → ``zh``: the part speech recognition and the statement texts care about."""
    return tag.replace("_", "-").split("-")[0].lower()


def valid_language_tag(tag: str) -> bool:
    return bool(_LANGUAGE_TAG.match(tag))


def machine_checkable(language: str) -> bool:
    """Can the recording be verified by speech recognition, or must a person listen?"""
    return base_language(language) in ASR_LANGUAGES


def in_force(consent: Consent | None) -> bool:
    """Verified (or approved after review) and not revoked: voices may be built and rendered on it."""
    return consent is not None and consent.status in USABLE and consent.revoked_at is None


def in_force_clause() -> ColumnElement[bool]:
    """``in_force`` as SQL, for a query that joins consents (NULL when there is no consent)."""
    return and_(Consent.status.in_(USABLE), Consent.revoked_at.is_(None))


def one_time_code() -> str:
    # No 0, 1 or 9: speech recognition confuses them most (1 with 是, 9 dropped) in both languages.
    return "".join(secrets.choice("2345678") for _ in range(4))


def statement(language: str, speaker: str, company: str, code: str | None) -> str:
    """The words the speaker reads. ``code=None`` only for the local CLI, where the operator
    holds the recording and replay across consents is not a threat. Languages other than
    Chinese get the English text; outside zh/en the speaker reads it in their own language
    and the operator checks the recording by ear."""
    if base_language(language) == "zh":
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


def same_language(consent_language: str, voice_language: str) -> bool:
    return base_language(consent_language) == base_language(voice_language)


def usable_consent(session: Session, tenant_id: str, consent_id: str | None, language: str | None = None) -> Consent:
    """The consent a new voice may be built on: this tenant's, verified (or approved), not
    revoked and, when the voice's ``language`` is given, given in that language."""
    if not consent_id:
        raise ConsentRequired("a voice needs the speaker's verified consent: create one with POST /v1/consents, "
                              "upload the speaker reading its statement, then pass its id as 'consent_id'")
    consent = session.get(Consent, consent_id)
    if consent is None or consent.tenant_id != tenant_id:
        raise NotFound(f"no consent {consent_id!r}")
    if not in_force(consent):
        raise ConsentRequired(f"consent {consent_id!r} is {consent.status}, not verified: no voice can be cloned "
                              "from it")
    if language is not None and not same_language(consent.language, language):
        raise ConsentLanguageMismatch(
            f"consent {consent_id!r} was given in {consent.language!r} but the voice is {language!r}: a voice is "
            "built only on a consent recorded in the voice's own language", field="consent_id")
    return consent


def review_consent(session: Session, consent: Consent, *, approve: bool, actor: str, note: str | None) -> None:
    """A person's verdict on a recording that speech recognition could not check. Only the
    operator's routes call this (shared.operators.decide): a tenant's own keys cannot."""
    if consent.status != ConsentStatus.needs_review.value:
        raise Conflict(f"consent {consent.id!r} is {consent.status}; only a consent awaiting review "
                       "(needs_review) can be approved or rejected")
    consent.status = (ConsentStatus.approved if approve else ConsentStatus.rejected).value
    consent.reviewed_by, consent.reviewed_at, consent.review_note = actor, utcnow(), note
    if approve:
        consent.verified_at = consent.reviewed_at
    record(session, consent.tenant_id, actor, f"consent.{'approved' if approve else 'rejected'}", "consent",
           consent.id, note=note)
