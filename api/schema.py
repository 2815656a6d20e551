"""Request schemas declared once, beside the route they belong to.

A :class:`Field` both checks a value (refusing it with a 422 that names the field and why,
as problem+json) and describes itself as JSON Schema; a :class:`Body` is an object of
fields. :func:`operation` attaches what a route takes and answers to its view, and
``api.openapi`` writes the document from those declarations and the URL map, so what is
validated and what is documented cannot drift apart, and no route goes undocumented.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from flask import request

from shared.consent import base_language, machine_checkable, valid_language_tag
from shared.errors import InvalidInput, UnsupportedMediaType

F = TypeVar("F", bound=Callable[..., Any])
JsonSchema = dict[str, Any]
LANGUAGES = ("zh", "en")
# Cursors are row offsets or sequence numbers; past this no row exists, and the database's
# integers would overflow (a server error) on the way to finding that out.
CURSOR_MAX = 2**31 - 1


@dataclass(frozen=True)
class Field:
    """A value of a request: ``parse`` returns it checked (or raises a 422 naming ``name``);
    ``schema`` is its JSON Schema. The base class documents ``shape`` and checks nothing: the
    value goes as sent to a domain check that needs more than the value (a webhook URL against
    the allow-list, a cron expression, a lexicon reading)."""

    checked: ClassVar[bool] = False
    shape: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None

    def parse(self, value: Any, name: str) -> Any:
        return value

    def read(self, source: Mapping[str, Any], name: str) -> Any:
        """The checked value of member ``name`` of ``source`` (a JSON object or the query string)."""
        return self.parse(source.get(name), name)

    def schema(self) -> JsonSchema:
        return {**self._schema(), **({"description": self.description} if self.description else {})}

    def _schema(self) -> JsonSchema:
        return dict(self.shape)


@dataclass(frozen=True)
class Text(Field):
    """A string, stripped; ``max_len`` of 0 leaves its length undocumented (and unbounded)."""

    checked: ClassVar[bool] = True

    max_len: int = 0
    required: bool = False

    def parse(self, value: Any, name: str) -> str | None:
        if value is None or value == "":
            if self.required:
                raise InvalidInput(f"'{name}' is required", field=name)
            return None
        if not isinstance(value, str):
            raise InvalidInput(f"'{name}' must be a string", field=name)
        value = value.strip()
        if self.required and not value:
            raise InvalidInput(f"'{name}' must not be blank", field=name)
        if self.max_len and len(value) > self.max_len:
            raise InvalidInput(f"'{name}' is longer than {self.max_len} characters", field=name)
        return value

    def _schema(self) -> JsonSchema:
        return {"type": "string", **({"maxLength": self.max_len} if self.max_len else {}), **self.shape}


@dataclass(frozen=True)
class Choice(Field):
    """One of a fixed set of strings."""

    checked: ClassVar[bool] = True

    values: tuple[str, ...] = ()
    default: str | None = None
    required: bool = False

    def read(self, source: Mapping[str, Any], name: str) -> str | None:
        if name not in source and not self.required:
            return self.default
        return self.parse(source.get(name), name)

    def parse(self, value: Any, name: str) -> str | None:
        if value not in self.values:
            raise InvalidInput(f"'{name}' must be one of {', '.join(self.values)}", field=name)
        return str(value)

    def _schema(self) -> JsonSchema:
        return {"enum": list(self.values), **self.shape}


@dataclass(frozen=True)
class Number(Field):
    """A JSON number within ``low``..``high`` (``default`` when absent)."""

    checked: ClassVar[bool] = True

    low: float = 0.0
    high: float = 0.0
    default: float = 0.0

    def parse(self, value: Any, name: str) -> float:
        if value is None:
            return self.default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"'{name}' must be a number", field=name)
        if not self.low <= float(value) <= self.high:
            raise InvalidInput(f"'{name}' must be between {self.low} and {self.high}", field=name)
        return float(value)

    def _schema(self) -> JsonSchema:
        return {"type": "number", "minimum": self.low, "maximum": self.high, **self.shape}


@dataclass(frozen=True)
class Boolean(Field):
    """A JSON ``true``/``false`` (``default`` when absent)."""

    checked: ClassVar[bool] = True

    default: bool = False

    def parse(self, value: Any, name: str) -> bool:
        if value is None:
            return self.default
        if not isinstance(value, bool):
            raise InvalidInput(f"'{name}' must be true or false", field=name)
        return value

    def _schema(self) -> JsonSchema:
        return {"type": "boolean", "default": self.default, **self.shape}


@dataclass(frozen=True)
class Flag(Field):
    """A query-string boolean: true/false, 1/0."""

    checked: ClassVar[bool] = True

    default: bool = False

    def parse(self, value: Any, name: str) -> bool:
        if value is None or value == "":
            return self.default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise InvalidInput(f"'{name}' must be true or false", field=name)

    def _schema(self) -> JsonSchema:
        return {"type": "boolean", "default": self.default, **self.shape}


@dataclass(frozen=True)
class Language(Text):
    """A language narrator renders: ``zh`` or ``en``."""

    max_len: int = 8
    required: bool = True

    def parse(self, value: Any, name: str) -> str:
        lang = super().parse(value, name)
        if lang not in LANGUAGES:
            raise InvalidInput(f"'{name}' must be one of {', '.join(LANGUAGES)}", field=name)
        return lang

    def _schema(self) -> JsonSchema:
        return {"enum": list(LANGUAGES), **self.shape}


@dataclass(frozen=True)
class ConsentLanguage(Text):
    """Any language tag (``ja``, ``yue``, ``fr-CA``); absent, ``zh``. zh and en are verified by
    speech recognition, the others wait for an operator to listen."""

    max_len: int = 8
    required: bool = True

    def read(self, source: Mapping[str, Any], name: str) -> str | None:
        return self.parse(source.get(name, "zh"), name)

    def parse(self, value: Any, name: str) -> str:
        lang = super().parse(value, name)
        if not valid_language_tag(lang):  # type: ignore[arg-type]
            raise InvalidInput(f"'{name}' must be a language tag such as zh, en, ja or fr-CA", field=name)
        return base_language(lang) if machine_checkable(lang) else lang  # type: ignore[arg-type,return-value]


@dataclass(frozen=True)
class Body:
    """A JSON object body. ``optional``: an empty body reads as ``{}``."""

    fields: Mapping[str, Field]
    name: str | None = None  # a component schema of the document, when named
    required: tuple[str, ...] = ()
    optional: bool = False
    closed: bool = False  # documented as additionalProperties: false (the view refuses unknown members)

    def read(self) -> dict[str, Any]:
        """The request's body with each checked member parsed (a default in place of an absent
        one); other members are kept as sent."""
        body = json_body() if request.get_data() or not self.optional else {}
        return {**body, **{name: f.read(body, name) for name, f in self.fields.items() if f.checked}}

    def schema(self) -> JsonSchema:
        return {"type": "object", **({"required": list(self.required)} if self.required else {}),
                **({"additionalProperties": False} if self.closed else {}),
                "properties": {name: f.schema() for name, f in self.fields.items()}}


@dataclass(frozen=True)
class Form:
    """A multipart/form-data body: text fields, checked like a :class:`Body`'s, and files,
    described here and read by the view (an upload's checks need its bytes)."""

    fields: Mapping[str, Field]
    files: Mapping[str, str] = field(default_factory=dict)  # name -> description
    required: tuple[str, ...] = ()

    def read(self) -> dict[str, Any]:
        """The form's checked text fields."""
        return {name: f.read(request.form, name) for name, f in self.fields.items() if f.checked}

    def schema(self) -> JsonSchema:
        files = {name: {"type": "string", "format": "binary", **({"description": text} if text else {})}
                 for name, text in self.files.items()}
        return {"type": "object", "required": list(self.required),
                "properties": {**{name: f.schema() for name, f in self.fields.items()}, **files}}


@dataclass(frozen=True)
class Operation:
    """What one route method takes and answers, as its view declares it.

    ``responses`` maps a status to a description, or to ``(description, content)`` where
    content is a component schema's name (JSON) or a media-type map. ``errors`` are the
    problem+json statuses it may answer besides the ones every route may (400, and 429 when
    authenticated). ``body`` is a :class:`Body`, a :class:`Form`, or an OpenAPI request body
    whose media types' schemas may be either (a batch: JSON, CSV, JSONL or a multipart file).
    """

    summary: str
    responses: Mapping[int, str | tuple[str, str | Mapping[str, Any]]]
    errors: tuple[int, ...] = ()
    description: str | None = None
    query: Mapping[str, Field] = field(default_factory=dict)
    body: Body | Form | Mapping[str, Any] | None = None
    public: bool = False  # no API key: not subject to the key's rate limit


def operation(summary: str, responses: Mapping[int, str | tuple[str, str | Mapping[str, Any]]],
              **details: Any) -> Callable[[F], F]:
    """Declare a view's :class:`Operation`; the view keeps it as ``view.operation``."""
    op = Operation(summary, responses, **details)

    def attach(view: F) -> F:
        view.operation = op  # type: ignore[attr-defined]
        return view

    return attach


def json_body() -> dict[str, Any]:
    """The request's JSON object (415 for another media type, 422 for another JSON value)."""
    if not request.is_json:
        raise UnsupportedMediaType("send a JSON body with 'Content-Type: application/json'")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def paging(default: int, maximum: int) -> tuple[int, int]:
    """``cursor`` and ``limit`` from the query string, both range-checked."""
    try:
        cursor = int(request.args.get("cursor", "0"))
        limit = int(request.args.get("limit", str(default)))
    except ValueError as exc:
        raise InvalidInput("'cursor' and 'limit' must be integers") from exc
    if not 0 <= cursor <= CURSOR_MAX or not 1 <= limit <= maximum:
        raise InvalidInput(f"'cursor' must be between 0 and {CURSOR_MAX} and 'limit' between 1 and {maximum}")
    return cursor, limit


def paging_query(maximum: int) -> dict[str, Field]:
    """The ``cursor`` and ``limit`` parameters :func:`paging` reads, as the document shows them."""
    return {"cursor": Field({"type": "integer", "minimum": 0, "maximum": CURSOR_MAX}),
            "limit": Field({"type": "integer", "minimum": 1, "maximum": maximum})}


def list_of(name: str, ref: str) -> Mapping[str, Any]:
    """A JSON object holding one list of a component schema, e.g. ``{"webhooks": [...]}``."""
    return {"application/json": {"schema": {"type": "object", "properties": {
        name: {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}}}}}}
