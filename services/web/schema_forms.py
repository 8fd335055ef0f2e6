"""HTML forms generated from an action's JSON Schema, and posted fields read back into its JSON.

The schema is the one the API publishes (`form_schema` of the arrow's pydantic form), so the web
page and the API can never disagree on what an action takes. Reading back is lenient on purpose:
what cannot be converted is passed on as typed, so the form's own validation names the field and
says why in both languages, and the page shows it beside the field with the values kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from states import divisions
from states.messages import CATALOGUE, Reason, reason, text


def field_label(name: str, title: str | None = None) -> tuple[str, str]:
    """A field named as people say it (the catalogue's `field.<name>`); else the schema's title, or the name."""
    return CATALOGUE.get(f"field.{name}", (title or name, title or name))


def choice_label(value: str) -> tuple[str, str] | None:
    """An enumerated value in words (the catalogue's `choice.<value>`), when the catalogue has it."""
    return CATALOGUE.get(f"choice.{value}")


LONG_TEXT = {"description", "comments", "reason", "response", "changes", "conflict", "conclusion", "dissent",
             "text", "reasoning", "summary", "scope", "answer", "notes", "internal_notes", "message", "content",
             "purpose_detail", "findings"}


@dataclass
class FieldView:
    name: str
    label: tuple[str, str]
    widget: str  # text | textarea | integer | number | checkbox | select | date | lines | rows | json
    required: bool
    value: str = ""
    choices: list[tuple[str, tuple[str, str]]] = field(default_factory=list)
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    errors: list[Reason] = field(default_factory=list)
    address: str = ""  # a location's street address (widget "location")
    groups: list[tuple[tuple[str, str], list[tuple[str, tuple[str, str]]]]] = field(default_factory=list)
    # `rows`: a list of small records drawn as a table, one line per record (never JSON to type):
    # `columns` the record's fields, `rows` each line's fields, named `<name>.<i>.<column>`
    columns: list[FieldView] = field(default_factory=list)
    rows: list[list[FieldView]] = field(default_factory=list)

    @property
    def dom_id(self) -> str:
        return "f-" + self.name.replace(".", "-")


BLANK_ROWS = 2  # empty lines offered below a table's records (the form works without JavaScript)


def _variants(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in prop.get("anyOf", [prop]) if v.get("type") != "null"]


def _nullable(prop: dict[str, Any]) -> bool:
    return any(v.get("type") == "null" for v in prop.get("anyOf", []))


def _record(main: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of an array's items when they are flat records (every field a scalar), else None."""
    items = main.get("items", {})
    ref = items.get("$ref", "")
    sub = defs.get(ref.rsplit("/", 1)[-1], {}) if ref else items
    props = sub.get("properties") or {}
    if sub.get("type") != "object" or not props:
        return None
    flat = all(_widget(n, p, defs)[0] in ("text", "textarea", "integer", "number", "select", "date")
               for n, p in props.items())
    return sub if flat else None


def _widget(name: str, prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    variants = _variants(prop)
    main = variants[0] if variants else {}
    if "$ref" in main:
        target = defs.get(main["$ref"].rsplit("/", 1)[-1], {})
        if set(target.get("properties", {})) == {"division", "address"}:
            return "location", target  # chosen from the GB/T 2260 list, never typed
        return "json", main
    types = {v.get("type") for v in variants}
    if "enum" in main:
        return "select", main
    if main.get("type") == "boolean":
        return "checkbox", main
    if main.get("type") == "integer":
        return "integer", main
    if "number" in types:
        return "number", main
    if main.get("type") == "string" and main.get("format") == "date":
        return "date", main
    if main.get("type") == "array":
        items = main.get("items", {})
        if items.get("type") in ("string", "integer"):
            return "lines", main
        return ("rows", main) if _record(main, defs) else ("json", main)
    if main.get("type") == "object":
        return "json", main
    if name in LONG_TEXT or (main.get("maxLength") or 0) > 500:
        return "textarea", main
    return "text", main


def _shown(value: Any, widget: str) -> str:
    if value is None:
        return ""
    if widget == "lines" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if widget == "json" and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, indent=1)
    if widget == "checkbox":
        return "on" if value in (True, "on", "true", "1") else ""
    return str(value)


def division_groups() -> list[tuple[tuple[str, str], list[tuple[str, tuple[str, str]]]]]:
    """The GB/T 2260 chooser: one group per city of the provinces the list details (the city itself, then
    its counties), and the other provinces in one group; each option "name (code)" in each language."""
    def option(d: divisions.Division) -> tuple[str, tuple[str, str]]:
        zh, en = divisions.names(d.code)
        # the ignore below: Text is a (zh, en) NamedTuple: tuple() of it is a pair
        return d.code, tuple(text("text.division_option", zh=zh, en=en, code=d.code))  # type: ignore[return-value]

    groups, bare = [], []
    for province in divisions.children(None):
        cities = divisions.children(province.code)
        if not cities:
            bare.append(option(province))
            continue
        groups.append((divisions.names(province.code), [option(province)]))
        for city in cities:
            groups.append((divisions.names(city.code), [option(city), *map(option, divisions.children(city.code))]))
    return [*groups, (CATALOGUE["text.other_provinces"], bare)]


def _errors(reasons: list[Reason], name: str) -> list[Reason]:
    """The reasons about a field, or about a part of it (`location.address`, `other_schemes.0.reference`)."""
    return [r for r in reasons if r.field and (r.field == name or r.field.startswith(name + "."))]


def _location_view(name: str, label: Any, required: bool, value: Any, values: dict[str, Any],
                   errors: list[Reason]) -> FieldView:
    """Posted back as `<name>.division` / `<name>.address`; stored as {division, address}; a location kept
    as text from before shows that text as the address, to be placed in a division."""
    loc = value if isinstance(value, dict) else {"address": value} if isinstance(value, str) else {}
    return FieldView(name=name, label=label, widget="location", required=required,
                     value=str(values.get(f"{name}.division", loc.get("division")) or ""),
                     address=str(values.get(f"{name}.address", loc.get("address")) or ""),
                     groups=division_groups(), errors=errors)


def fields(schema: dict[str, Any], values: dict[str, Any] | None = None,
           reasons: list[Reason] | None = None) -> tuple[list[FieldView], list[Reason]]:
    """The fields to draw, with the values typed so far and each field's reasons; and the reasons that
    belong to no field (a rule on the whole case), to show above the form."""
    values = values or {}
    reasons = reasons or []
    required = set(schema.get("required", []))
    defs = schema.get("$defs", {})
    out: list[FieldView] = []
    for name, prop in schema.get("properties", {}).items():
        widget, main = _widget(name, prop, defs)
        label = field_label(name, prop.get("title"))
        value = values.get(name, prop.get("default"))
        if widget == "location":
            out.append(_location_view(name, label, name in required, value, values, _errors(reasons, name)))
            continue
        out.append(FieldView(
            name=name, label=label, widget=widget, required=name in required, value=_shown(value, widget),
            choices=[(str(c), choice_label(str(c)) or (str(c), str(c))) for c in main.get("enum", [])],
            # schema descriptions are written for developers, in English: the page shows only the shape hint
            help=_json_hint(main, defs) if widget == "json" else "",
            minimum=main.get("minimum"), maximum=main.get("maximum"), max_length=main.get("maxLength"),
            errors=_errors(reasons, name)))
    for f in out:
        if f.widget == "rows":
            _table(f, schema.get("properties", {})[f.name], defs, values.get(f.name))
    known = {f.name for f in out}
    loose = [r for r in reasons if not r.field or r.field.split(".")[0] not in known]
    return out, loose


def _table(f: FieldView, prop: dict[str, Any], defs: dict[str, Any], value: Any) -> None:
    """A `rows` field's columns and lines: its records (as stored, or as typed back from the form) and
    BLANK_ROWS empty lines; each cell carries the reasons about it (`other_schemes.0.reference`)."""
    _, main = _widget(f.name, prop, defs)
    sub = _record(main, defs) or {}
    records: list[dict[str, Any]] = []
    if isinstance(value, list):
        records = [r if isinstance(r, dict) else {} for r in value]
    elif isinstance(value, dict):  # typed back: {"0": {...}, "3": {...}}
        records = [value[k] for k in sorted(value, key=lambda k: int(k) if str(k).isdigit() else 0)]
    elif isinstance(value, str) and value.strip():
        try:
            loaded = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            loaded = []
        records = [r for r in loaded if isinstance(r, dict)] if isinstance(loaded, list) else []
    f.columns, _ = fields(sub, {})
    f.value = ""
    f.rows = []
    for i, record in enumerate([*records, *({} for _ in range(BLANK_ROWS))]):
        cells, _ = fields(sub, record, [replace(r, field=r.field[len(f"{f.name}.{i}."):]) for r in f.errors
                                        if r.field and r.field.startswith(f"{f.name}.{i}.")])
        for c in cells:
            c.name = f"{f.name}.{i}.{c.name}"
        f.rows.append(cells)


def _json_hint(main: dict[str, Any], defs: dict[str, Any]) -> str:
    """What a JSON field wants, as an example built from the schema (the people filling it in are not
    programmers: show them the shape)."""
    target = main.get("items", main)
    ref = target.get("$ref", "")
    sub = defs.get(ref.rsplit("/", 1)[-1], target) if ref else target
    keys = list(sub.get("properties", {}))
    example: Any = dict.fromkeys(keys, "…") if keys else {}
    if main.get("type") == "array":
        example = [example]
    return "JSON: " + json.dumps(example, ensure_ascii=False)


_OMIT = object()  # a field left out of the action's JSON


def read_back(schema: dict[str, Any], posted: dict[str, str]) -> tuple[dict[str, Any], list[Reason]]:
    """Posted strings → the action's JSON. Values that can't be converted are passed through as typed
    (the form's validation then names them); JSON that doesn't parse is a reason of its own."""
    data: dict[str, Any] = {}
    problems: list[Reason] = []
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        try:
            value = _field_back(name, prop, defs, posted, name in required)
        except (json.JSONDecodeError, RecursionError):
            problems.append(reason("json_invalid.field", field=name))
            continue
        if value is not _OMIT:
            data[name] = value
    return data, problems


def _field_back(name: str, prop: dict[str, Any], defs: dict[str, Any], posted: dict[str, str],
                required: bool) -> Any:
    """One field's posted string(s) as its JSON value, or _OMIT."""
    widget, main = _widget(name, prop, defs)
    if widget == "location":
        return _location_back(name, prop, posted, required)
    if widget == "rows":
        return _rows_back(name, main, defs, posted)
    raw = posted.get(name)
    if widget == "checkbox":
        return raw in ("on", "true", "1")
    text = (raw or "") if widget == "textarea" else (raw or "").strip()
    if text.strip() == "":
        return _blank(widget, main, prop, required)
    return _typed(widget, main, text)


def _location_back(name: str, prop: dict[str, Any], posted: dict[str, str], required: bool) -> Any:
    """`<name>.division` and `<name>.address` as {division, address}."""
    division = (posted.get(f"{name}.division") or "").strip()
    address = (posted.get(f"{name}.address") or "").strip()
    if division or address or required:
        return {"division": division, "address": address or None}
    return None if _nullable(prop) else _OMIT


def _blank(widget: str, main: dict[str, Any], prop: dict[str, Any], required: bool) -> Any:
    """A field left empty: a required one is sent empty (the form's validation names it), an optional one
    as null where it may be null, else left out."""
    if not required:
        return None if _nullable(prop) else _OMIT
    if widget in ("lines", "json"):
        return [] if main.get("type") == "array" else {}
    return "" if widget in ("text", "textarea", "date", "select") else None


def _typed(widget: str, main: dict[str, Any], text: str) -> Any:
    """A filled field's text as its type; what does not convert is passed on as typed. JSON that does not
    parse raises (json.JSONDecodeError)."""
    if widget == "integer":
        return int(text) if text.lstrip("-").isdigit() and len(text) < 19 else text
    if widget == "select" and all(isinstance(c, int) for c in main.get("enum", [])):
        return int(text) if text.isdigit() else text
    if widget == "lines":
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if main.get("items", {}).get("type") == "integer":
            return [int(x) if x.isdigit() and len(x) < 19 else x for x in lines]
        return lines
    if widget == "json":
        return json.loads(text)
    return text  # text, and numbers: Tonnes accept decimal strings exactly


def _rows_back(name: str, main: dict[str, Any], defs: dict[str, Any], posted: dict[str, str]) -> list[dict[str, Any]]:
    """A table's lines (`<name>.<i>.<column>`) back into records, in line order; empty lines dropped."""
    sub = _record(main, defs) or {}
    lines: dict[int, dict[str, str]] = {}
    for key, value in posted.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == name and parts[1].isdigit():
            lines.setdefault(int(parts[1]), {})[parts[2]] = value
    out = []
    for i in sorted(lines):
        line = lines[i]
        if not any((v or "").strip() for v in line.values()):
            continue
        record, _ = read_back(sub, line)
        out.append(record)
    return out
