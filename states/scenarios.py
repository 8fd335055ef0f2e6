"""Scenario data (减排场景), the domain with no I/O: how a methodology's quantification is declared and
evaluated, what a record must look like, which values look like personal identifiers, issuance periods,
anomalies against a scenario's own history, the per-user allocation of an issued block and points.

Seeds: Ordos art. 14 (the enterprise sends users' desensitised low-carbon data daily, the platform
computes the reductions), art. 13 (users' authorisation), art. 15 (scenario reductions verified
digitally), arts. 12 and 16 (reductions belong to the individuals, held by the enterprise on their
behalf), art. 11 (reductions from anomalous data are corrected); Shanghai art. 13 (scenario data per
the methodology, connected after validation), art. 16 (individuals' reductions convert into points),
art. 22 (data quality and privacy); Shandong 编制说明 二(二) (individuals' points are not tradable).

Amounts are integers so that every engine adds them up to the same figure in any order: quantities
in the activity unit's smallest step (`decimals` places), reductions in grams of CO2e. A record's
reduction is the formula evaluated in IEEE doubles, on the user's capped daily quantity, rounded
half up to a gram; the same expression tree is rendered for DuckDB and evaluated with numpy.
"""

from __future__ import annotations

import bisect
import calendar
import math
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

GRAMS_PER_TONNE = 1_000_000
GRAMS_PER_KG = 1_000

# --- the record -------------------------------------------------------------------------------------

# The columns a daily batch carries (any order; more columns are refused as unexpected data).
RECORD_COLUMNS = ("record_id", "user_id", "activity_type", "quantity", "activity_date")
CONSENT_COLUMNS = ("user_id", "status", "effective_date")
CONSENT_STATUSES = ("granted", "withdrawn")
# A pseudonym and a source record id: printable ASCII without spaces, at most 64 characters.
TOKEN_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
# What a personal identifier looks like (Shanghai art. 22; Ordos art. 14 经数据脱敏): refused wherever
# it appears. RE2 and Python's `re` read these the same way (DuckDB's regexp_matches is RE2).
PII_PATTERNS: dict[str, str] = {
    # a mainland mobile number, with or without +86 / 86
    "pii_phone": r"^(\+?86)?1[3-9][0-9]{9}$",
    # a resident identity card number: 18 characters (GB 11643-1999), or the old 15 digits
    "pii_id_card": r"^([1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]"
                   r"|[1-9][0-9]{7}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3})$",
    "pii_email": r"^[^@ ]+@[^@ ]+\.[A-Za-z]{2,}$",
}
# Every reason a row can be refused for, in the order they are reported (each has `reason.scenario_<code>`).
ROW_REASONS = ("missing_field", "bad_record_id", "bad_user_id", "pii_phone", "pii_id_card", "pii_email",
               "unknown_activity", "bad_quantity", "negative_quantity", "too_precise", "bad_date",
               "future_date", "duplicate_in_batch", "duplicate_across_batches", "bad_status")
# What the period's computation leaves out and counts (each has `reason.scenario_<code>`)
EXCLUSIONS = ("no_consent", "no_parameter", "formula_undefined")


def pii_kind(value: str) -> str | None:
    """The kind of personal identifier `value` looks like, or None."""
    for code, pattern in PII_PATTERNS.items():
        if re.match(pattern, value):
            return code
    return None


# --- the methodology's quantification ---------------------------------------------------------------


class FormulaError(ValueError):
    """A formula that does not parse, or names something it may not."""


Node = tuple[Any, ...]  # ("num", float) | ("var", name) | ("neg", node) | (op, left, right)
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\S))")
QUANTITY = "quantity"


def parse_formula(source: str) -> Node:
    """`quantity * (baseline - scenario) / 1000` into an expression tree: numbers, names, + - * /,
    unary minus and parentheses; nothing else (no calls, no attributes)."""
    tokens: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(source.strip()):
        number, name, other = m.groups()
        tokens.append(("num", number) if number else ("name", name) if name else ("op", other))
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise FormulaError("the formula ends too early")
        pos += 1
        return tokens[pos - 1]

    def expr() -> Node:
        node = term()
        while (t := peek()) and t in (("op", "+"), ("op", "-")):
            take()
            node = (t[1], node, term())
        return node

    def term() -> Node:
        node = factor()
        while (t := peek()) and t in (("op", "*"), ("op", "/")):
            take()
            node = (t[1], node, factor())
        return node

    def factor() -> Node:
        kind, value = take()
        if kind == "num":
            return ("num", float(value))
        if kind == "name":
            return ("var", value)
        if value == "-":
            return ("neg", factor())
        if value == "(":
            node = expr()
            if take() != ("op", ")"):
                raise FormulaError("a parenthesis is not closed")
            return node
        raise FormulaError(f"unexpected {value!r}")

    if not tokens:
        raise FormulaError("the formula is empty")
    tree = expr()
    if pos != len(tokens):
        raise FormulaError(f"unexpected {tokens[pos][1]!r}")
    return tree


def formula_names(tree: Node) -> set[str]:
    if tree[0] == "num":
        return set()
    if tree[0] == "var":
        return {tree[1]}
    return set().union(*(formula_names(child) for child in tree[1:]))


def formula_sql(tree: Node, column: Mapping[str, str]) -> str:
    """The tree as a DuckDB expression over DOUBLE columns (`column`: name -> quoted column), every
    operation parenthesised so that DuckDB evaluates exactly the tree numpy evaluates."""
    if tree[0] == "num":
        return f"CAST({tree[1]!r} AS DOUBLE)"
    if tree[0] == "var":
        return column[tree[1]]
    if tree[0] == "neg":
        return f"(-{formula_sql(tree[1], column)})"
    return f"({formula_sql(tree[1], column)} {tree[0]} {formula_sql(tree[2], column)})"


Ops = Mapping[str, Callable[[object, object], object]]


def formula_eval(tree: Node, values: Mapping[str, object], ops: Ops) -> object:
    """The tree over whatever `ops` ("+", "-", "*", "/", "neg") compute on: floats, or an engine's
    columns (pyarrow.compute for the Dask workers). Evaluated in the order the tree says, like the SQL."""
    if tree[0] == "num":
        return tree[1]
    if tree[0] == "var":
        return values[tree[1]]
    if tree[0] == "neg":
        return ops["neg"](formula_eval(tree[1], values, ops), None)
    return ops[tree[0]](formula_eval(tree[1], values, ops), formula_eval(tree[2], values, ops))


def _div(a: object, b: object) -> float:
    try:
        # the ignore below: the operands are `object`: one tree is evaluated over floats and over SQL text
        return a / b  # type: ignore[operator, no-any-return]
    except ZeroDivisionError:
        return math.nan


# the ignore below: the operands are `object`: one tree is evaluated over floats and over SQL text
FLOAT_OPS: Ops = {"+": lambda a, b: a + b, "-": lambda a, b: a - b,  # type: ignore[operator]
                  "*": lambda a, b: a * b, "/": _div, "neg": lambda a, _: -a}  # type: ignore[operator]


@dataclass(frozen=True)
class Activity:
    """One activity type a scenario methodology quantifies: its unit, the smallest step a quantity
    is given in (`decimals`), the formula giving kgCO2e from `quantity` and the bound parameters, and
    the plausibility cap on one user's quantity a day."""

    type: str
    unit: str
    decimals: int
    formula: str
    bind: Mapping[str, str]  # formula name -> the methodology's registered parameter name
    cap_per_user_day: Decimal

    @property
    def tree(self) -> Node:
        return parse_formula(self.formula)

    @property
    def cap_steps(self) -> int:
        return int(self.cap_per_user_day * 10 ** self.decimals)

    @property
    def scale(self) -> int:
        return int(10 ** self.decimals)


def activities_of(spec: Mapping[str, object]) -> dict[str, Activity]:
    """The methodology's declared quantification (its `quantification` JSON) as activities."""
    out = {}
    # the ignore below: a quantification is JSON (Mapping[str, object]); check_activity checks its shape
    for a in spec.get("activities", []):  # type: ignore[attr-defined]
        out[a["type"]] = Activity(type=a["type"], unit=a["unit"], decimals=int(a["decimals"]), formula=a["formula"],
                                  bind=dict(a.get("bind", {})), cap_per_user_day=Decimal(str(a["cap_per_user_day"])))
    return out


def check_activity(activity: Activity, registered: Sequence[Mapping[str, object]]) -> list[tuple[str, dict[str, Any]]]:
    """Every problem with a declared activity, as (reason code, params): the formula parses, names only
    `quantity` and bound names, and every bound name is one of the methodology's registered parameters
    whose values are numbers."""
    problems: list[tuple[str, dict[str, Any]]] = []
    try:
        names = formula_names(activity.tree)
    except FormulaError as exc:
        return [("scenario_formula_invalid", {"activity": activity.type, "detail": str(exc)})]
    unbound = sorted(names - {QUANTITY} - set(activity.bind))
    if unbound:
        problems.append(("scenario_formula_unbound", {"activity": activity.type, "names": ", ".join(unbound)}))
    if QUANTITY not in names:
        problems.append(("scenario_formula_no_quantity", {"activity": activity.type}))
    known = {str(p["name"]) for p in registered}
    for name in sorted(activity.bind.values()):
        if name not in known:
            problems.append(("scenario_parameter_unknown", {"activity": activity.type, "name": name}))
            continue
        for p in registered:
            if p["name"] == name and _number(str(p["value"])) is None:
                problems.append(("scenario_parameter_not_number", {"activity": activity.type, "name": name}))
                break
    return problems


def _number(value: str) -> float | None:
    try:
        out = float(value)
    except ValueError:
        return None
    return out if math.isfinite(out) else None


def parameter_in_force(registered: Sequence[Mapping[str, object]], name: str, on: date) -> float | None:
    """The value of the registered parameter `name` in force on `on`: the entry with the latest
    `source_date` not after it (a methodology registers a new value, e.g. next year's grid emission
    factor, as another entry of the same name with its own date). None when none is in force yet."""
    best: tuple[date, float] | None = None
    for p in registered:
        if p["name"] != name:
            continue
        since = date.fromisoformat(str(p["source_date"]))
        value = _number(str(p["value"]))
        if since <= on and value is not None and (best is None or since > best[0]):
            best = (since, value)
    return None if best is None else best[1]


def factor_table(activities: Mapping[str, Activity], registered: Sequence[Mapping[str, object]],
                 days: Sequence[date]) -> list[dict[str, object]]:
    """One row per (activity, day): the values of its bound parameters in force that day (None: none is)."""
    rows = []
    for activity in activities.values():
        for day in days:
            row: dict[str, object] = {"activity_type": activity.type, "activity_date": day}
            for local, name in activity.bind.items():
                row[f"p_{local}"] = parameter_in_force(registered, name, day)
            rows.append(row)
    return rows


def grams(kg: float) -> int | None:
    """kgCO2e (a double) to whole grams, half up; negative results (no reduction) are 0; None when the
    formula is undefined (division by zero)."""
    if not math.isfinite(kg):
        return None
    return max(math.floor(kg * GRAMS_PER_KG + 0.5), 0)


def grams_sql(kg_expr: str) -> str:
    """The same rounding in DuckDB."""
    return f"greatest(CAST(floor(({kg_expr}) * {GRAMS_PER_KG}.0 + 0.5) AS BIGINT), 0)"


# --- periods ----------------------------------------------------------------------------------------

PeriodKind = Literal["monthly", "quarterly", "annual"]


@dataclass(frozen=True)
class Period:
    key: str  # 2026-03 | 2026-Q1 | 2026
    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def period_of(day: date, kind: PeriodKind) -> Period:
    if kind == "monthly":
        last = calendar.monthrange(day.year, day.month)[1]
        return Period(f"{day.year}-{day.month:02d}", day.replace(day=1), day.replace(day=last))
    if kind == "quarterly":
        q = (day.month - 1) // 3
        start = date(day.year, 3 * q + 1, 1)
        end_month = 3 * q + 3
        end = date(day.year, end_month, calendar.monthrange(day.year, end_month)[1])
        return Period(f"{day.year}-Q{q + 1}", start, end)
    return Period(str(day.year), date(day.year, 1, 1), date(day.year, 12, 31))


PERIOD_KEY = {"monthly": r"^(\d{4})-(0[1-9]|1[0-2])$", "quarterly": r"^(\d{4})-Q([1-4])$", "annual": r"^(\d{4})$"}


def parse_period(key: str, kind: PeriodKind) -> Period | None:
    m = re.match(PERIOD_KEY[kind], key)
    if not m or not 1990 <= int(m.group(1)) <= 2100:
        return None
    year = int(m.group(1))
    if kind == "monthly":
        return period_of(date(year, int(m.group(2)), 1), kind)
    if kind == "quarterly":
        return period_of(date(year, 3 * int(m.group(2)) - 2, 1), kind)
    return period_of(date(year, 1, 1), kind)


# --- anomalies against the scenario's own history ---------------------------------------------------

MIN_HISTORY_DAYS = 14
MAD_FACTOR = 6.0  # robust z-score above which a day is anomalous
MAD_SCALE = 1.4826  # MAD to a standard deviation for normal data


def anomalous_days(period: Mapping[date, int], history: Mapping[date, int]) -> list[dict[str, object]]:
    """Days of the period whose total reduction lies far above the scenario's own history: more than
    6 robust standard deviations (median and MAD) above the median of the days before the period
    (or of the period itself while fewer than 14 days of history exist), and at least half again the
    median. Deterministic: the same totals give the same days."""
    base = list(history.values()) if len(history) >= MIN_HISTORY_DAYS else list(period.values())
    if not base:
        return []
    median = statistics.median(base)
    mad = statistics.median([abs(v - median) for v in base]) * MAD_SCALE
    threshold = median + max(MAD_FACTOR * mad, 0.5 * median)
    return [{"day": d.isoformat(), "total_g": v, "median_g": round(median), "threshold_g": round(threshold)}
            for d, v in sorted(period.items()) if v > threshold]


# --- allocation of an issued block to the users ------------------------------------------------------


def block_tonnes(eligible_g: int) -> int:
    """Whole tonnes issued from what users are eligible for; the rest (under a tonne) is carried."""
    return eligible_g // GRAMS_PER_TONNE


def allocate(eligible_g: Mapping[str, int]) -> tuple[int, dict[str, int]]:
    """The block (whole tonnes) and each user's allocated grams, summing exactly to the block.

    A user's eligible grams are what they carried from earlier periods plus this period's. The block
    is the whole tonnes of the total T; the deficit D = T - block (under a tonne) is taken from users
    in proportion to what they are eligible for: floor(e*D/T) grams each, and the grams still missing
    one each from the users with the largest remainders (ties: the smaller pseudonym). What a user is
    not allocated is their carry into the next period, so no gram is lost and none is issued twice."""
    total = sum(eligible_g.values())
    block = block_tonnes(total)
    deficit = total - block * GRAMS_PER_TONNE
    if total == 0 or deficit == 0:
        return block, dict(eligible_g)
    cut: dict[str, int] = {}
    remainders: list[tuple[int, str]] = []
    for user, e in eligible_g.items():
        q, r = divmod(e * deficit, total)
        cut[user] = q
        remainders.append((-r, user))
    missing = deficit - sum(cut.values())
    for _, user in sorted(remainders)[:missing]:
        cut[user] += 1
    return block, {user: e - cut[user] for user, e in eligible_g.items()}


def allocation_rows(reduction_g: Mapping[str, int], carry_g: Mapping[str, int]
                    ) -> tuple[int, dict[str, dict[str, int]]]:
    """The block and each user's row of an issued period: what they reduced in it, what they carried in, what
    is allocated (and issued) to them, what carries out. Users with nothing eligible have no row."""
    eligible = {u: reduction_g.get(u, 0) + carry_g.get(u, 0) for u in {*reduction_g, *carry_g}}
    eligible = {u: g for u, g in eligible.items() if g > 0}
    block, allocated = allocate(eligible)
    return block, {u: {"reduction_g": reduction_g.get(u, 0), "carry_in_g": carry_g.get(u, 0),
                       "allocated_g": allocated[u], "carry_out_g": eligible[u] - allocated[u], "reversed_g": 0,
                       "issued_g": allocated[u]} for u in eligible}


def allocation_leaf(scenario: int, period: str, user: str, allocated_g: int) -> bytes:
    """The bytes of one user's leaf in the allocation's Merkle tree (RFC 9162 leaf hashing applies)."""
    return f'{{"allocated_g":{allocated_g},"period":"{period}","scenario":{scenario},"user":"{user}"}}'.encode()


def points(allocated_g: int, points_per_kg: Decimal) -> int:
    """Carbon points for allocated grams at the profile's rate (Shanghai art. 16), rounded down."""
    return int(Decimal(allocated_g) * points_per_kg / GRAMS_PER_KG)


@dataclass(frozen=True)
class PointsPosition:
    """An individual's points after corrections. A correction (Ordos art. 11: 对依据异常数据获得的减排量进行
    修正) withdraws in full the points its reversed reductions had earned, even where they are spent: points
    sent to another individual are theirs in good faith (the reductions of a scenario belong to each
    individual, Ordos art. 12) and points redeemed in a points mall are gone (Shanghai art. 21: 消纳后予以注销),
    so nobody else's account is touched. What the balance cannot cover is **owed**: it is offset against the
    individual's next awards (later periods' points count against it first) and, while any is owed, no
    points leave the account."""

    awarded: int  # what the periods' allocations earned when issued
    reversed: int  # withdrawn by corrections
    received: int
    sent: int

    @property
    def earned(self) -> int:
        return self.awarded - self.reversed

    @property
    def balance(self) -> int:
        """Signed: below zero while a correction's withdrawal is not yet offset."""
        return self.earned + self.received - self.sent

    @property
    def available(self) -> int:
        return max(self.balance, 0)

    @property
    def owed(self) -> int:
        return max(-self.balance, 0)


def period_points(issued_g: int, allocated_g: int, points_per_kg: Decimal) -> tuple[int, int]:
    """A period's points as issued, and those a correction withdrew since (the allocation is smaller)."""
    awarded = points(issued_g, points_per_kg)
    return awarded, awarded - points(allocated_g, points_per_kg)


def period_vintage(period: Period) -> int:
    """The vintage of a scenario period's units: the year it lies in (periods never cross a year)."""
    return period.start.year


@dataclass(frozen=True)
class Corrected:
    """A period's allocation after a correction (Ordos art. 11): the new block, each user's allocation,
    what each user's carry changes by (the reallocation's remainder in, a reversal beyond the allocation
    out) and each user's reversed grams."""

    block: int
    allocated: dict[str, int]
    carry_delta: dict[str, int]
    reversed: dict[str, int]


def correct(reduction_g: Mapping[str, int], allocated_g: Mapping[str, int], carry_g: Mapping[str, int],
            requested: Mapping[str, int | None]) -> tuple[Corrected | None, list[tuple[str, dict[str, Any]]]]:
    """Reverse each named user's reductions of the period (None: all of them): from the user's allocation
    first, the rest from what they carry (it was not issued yet). A user not in the period, or a reversal
    above their reduction of the period or above what is left of it, is refused with its reason. What is
    left is allocated again (`allocate`), so the allocation still sums to the (smaller) block and the
    remainder under a tonne carries on, per user, like any period's."""
    problems: list[tuple[str, dict[str, Any]]] = []
    reversed_: dict[str, int] = {}
    from_carry: dict[str, int] = {}
    for user, asked in requested.items():
        if user not in reduction_g:
            problems.append(("scenario_correction_unknown_user", {"user": user}))
            continue
        want = reduction_g[user] if asked is None else asked
        if want > reduction_g[user]:
            problems.append(("scenario_correction_over_reduction", {"user": user, "asked": want,
                                                                    "reduction": reduction_g[user]}))
            continue
        from_alloc = min(want, allocated_g.get(user, 0))
        rest = want - from_alloc
        if rest > carry_g.get(user, 0):
            problems.append(("scenario_correction_spent", {"user": user, "asked": want,
                                                           "left": from_alloc + carry_g.get(user, 0)}))
            continue
        reversed_[user], from_carry[user] = want, rest
    if problems:
        return None, problems
    left = {u: a - min(reversed_.get(u, 0), a) for u, a in allocated_g.items()}
    block, alloc = allocate(left)
    delta = {u: left[u] - alloc[u] - from_carry.get(u, 0) for u in left}
    return Corrected(block, alloc, {u: d for u, d in delta.items() if d}, reversed_), []


def closed_periods(first: date, today: date, kind: PeriodKind) -> list[Period]:
    """The periods from the one holding `first` up to the last that ended before `today`."""
    out = []
    period = period_of(first, kind)
    while period.end < today:
        out.append(period)
        period = period_of(period.end + timedelta(days=1), kind)
    return out


def periods_with_data(periods: Sequence[Period], business_dates: Sequence[date], late_days: int) -> list[Period]:
    """The periods some records batch may hold records of: one whose business date falls from the period's
    start to its end plus the days late records may still come (`business_dates` sorted). A period no batch
    covers has nothing to verify or issue: no case is opened for it (a scenario that paused for months
    leaves no empty cases in the review centre's queue)."""
    out = []
    for period in periods:
        i = bisect.bisect_left(business_dates, period.start)
        if i < len(business_dates) and business_dates[i] <= period.end + timedelta(days=late_days):
            out.append(period)
    return out
