"""Forms of the methodology_filing procedure (PROCESSES.md) and the public consultation."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from forms.common import Comment, Day, Form, LongText, Reasoning, ShortText

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=60,
                                        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Version = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20,
                                           pattern=r"^[0-9A-Za-z.\-]+$")]


class KeyParameter(Form):
    """A parameter the methodology fixes, e.g. an emission factor, with where it comes from and when:
    Jiaxing art. 11 asks for data published by national authorities, kept up to date."""

    name: ShortText
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    unit: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    source: ShortText
    source_date: Day


class MethodologyApplication(Form):
    code: Code
    version: Version
    title: ShortText
    kind: Literal["project", "scenario"]
    tier: str | None = Field(None, max_length=20, description="the profile's tier, e.g. class_I, level_1, group")
    scope: ShortText = Field(description="the activity or scenario it quantifies, e.g. EV trips")
    summary: LongText = ""
    parameters: list[KeyParameter] = Field(default_factory=list, max_length=100)
    revises: Version | None = Field(None, description="the filed version of the same code this one replaces")
    consultant: ShortText | None = None
    expertise: ShortText | None = Field(None, description="the field of expertise the panel needs")


class MethodologyEdit(Form):
    title: ShortText | None = None
    tier: str | None = Field(None, max_length=20)
    scope: ShortText | None = None
    summary: LongText | None = None
    parameters: list[KeyParameter] | None = Field(None, max_length=100)


class PublicComment(Form):
    """Anyone may comment during the consultation (Shanghai art. 11: 向社会公开征求意见)."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    organisation: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    contact: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=5000)]


class CommentAnswer(Form):
    comment_id: int = Field(ge=1)
    answer: Reasoning
    disposition: Literal["adopted", "partly_adopted", "not_adopted"]


class DispositionDone(Form):
    summary: Comment = ""


class ParameterConfirmation(Form):
    """Jiaxing art. 11: the review centre checked the source and it is still the latest published."""

    checked_source: ShortText = Field(description="where the review centre looked (the authority's publication)")
    note: Reasoning


class ParameterUpdate(Form):
    """Jiaxing art. 11: the parameter takes a newer published value."""

    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    unit: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    source: ShortText
    source_date: Day
    note: Reasoning
