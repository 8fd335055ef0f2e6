"""What every read model is built from: the base of the public models, instants as the API writes them,
bilingual labels, lists.

A public model names every field of its JSON: an undeclared key is an error, never a silent drop, so
a read model and the schema clients are given cannot drift apart. Routes return these models (FastAPI
checks them against `response_model`); the web pages that read dicts take `plain(model)`, the same JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

from services.engine.errors import NotFound
from states.messages import Reason, label, reason


class Public(BaseModel):
    """A model the API answers with."""

    model_config = ConfigDict(extra="forbid")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


# An instant as Python writes it (`2026-03-02T01:00:00+00:00`), not pydantic's `Z` form: the JSON stays
# what it was before the models, and what the audit chain hashed.
Instant = Annotated[datetime, PlainSerializer(_iso, return_type=str),
                    WithJsonSchema({"type": "string", "format": "date-time"})]


class Bilingual(Public):
    zh: str
    en: str


class Labelled(Public):
    """A name from the domain with its label (`state.<name>`, `procedure.<name>` in the catalogue)."""

    name: str
    zh: str
    en: str


def labelled(kind: str, name: str) -> Labelled:
    return Labelled(name=name, **label(f"{kind}.{name}"))


T = TypeVar("T")


class Items(Public, Generic[T]):
    """A list (a page when the model says how to ask for the next one)."""

    items: list[T]


def plain(model: BaseModel) -> dict[str, Any]:
    """The model as the API's JSON, for the pages that read dicts."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def not_found(noun: str) -> NotFound:
    """404 naming what was not found (`noun.<noun>` in the catalogue)."""
    names = label(f"noun.{noun}")
    return NotFound.of(names["zh"], names["en"])


def coded(code: str, key: str, /, field: str | None = None, **params: Any) -> Reason:
    """A reason worded by the catalogue's `reason.<key>` under the code clients already know it by."""
    found = reason(key, field=field, **params)
    return Reason(code, found.zh, found.en, found.field, found.params)

