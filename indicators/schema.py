"""The indicator YAML format as pydantic models: what one indicator declares."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cityvitals.vocabulary import DOMAINS, PANELS

LEVEL_NAMES = ("district", "street", "community", "grid")
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d|w|mo|q)$")
# A month is 31 days and a quarter 92: a monthly statistic published late in the next month is not stale yet.
MONTHLY_S = 28 * 86400  # data allowed to be this old is a monthly (or slower) statistic
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 31 * 86400, "q": 92 * 86400}


def parse_duration(value: str | int | float) -> float:
    """Turn ``90``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1w"``, ``"2mo"`` or ``"1q"`` into seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):  # a list or mapping may be huge (an alias bomb): named by its type only
        raise ValueError(f"a {type(value).__name__} is not a duration like 90s, 15m, 2h, 1d, 1w, 2mo or 1q")
    match = DURATION.match(value.strip())
    if not match:
        raise ValueError(f"{value[:40]!r} is not a duration like 90s, 15m, 2h, 1d, 1w, 2mo or 1q")
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)]


FUNNEL_CLEAR_S = 900.0  # a funnel warning keeps firing this long after its cell is clear (see Indicator)


class Strict(BaseModel):
    """Base: unknown keys are errors (a typo must not silently drop a threshold)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Name(Strict):
    """Bilingual name."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Source(Strict):
    """Where the grid-level value comes from: one metric, a formula, or a ratio of two formulas.

    With ``level``, the value is read from the samples of that level's own areas (a district's
    monthly CPI from the statistics bureau) instead of being rolled up from grids.
    """

    metric: str | None = None
    formula: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 1.0
    level: Literal["district", "street", "community"] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        kinds = [self.metric is not None, self.formula is not None, self.numerator is not None]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of metric, formula, or numerator with denominator")
        if (self.numerator is None) != (self.denominator is None):
            raise ValueError("numerator and denominator go together")
        return self


Bound = float | tuple[float, float]


class Thresholds(Strict):
    """Yellow and red thresholds; for ``band`` each is a (low, high) pair of the allowed range."""

    yellow: Bound
    red: Bound


class Schedule(Strict):
    """Local hours (``"07:00-09:30"``, may wrap past midnight) and optional weekdays (0 = Monday)."""

    hours: str = Field(pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    weekdays: tuple[int, ...] | None = None


class Override(Strict):
    """Thresholds that replace the defaults where the selector matches; later overrides win."""

    level: Literal["district", "street", "community", "grid"] | None = None
    area: str | None = None
    schedule: Schedule | None = None
    profile: str | None = None
    yellow: Bound
    red: Bound

    @model_validator(mode="after")
    def _has_selector(self) -> Override:
        if not (self.level or self.area or self.schedule or self.profile):
            raise ValueError("an override needs at least one of level, area, schedule, profile")
        return self


class Evidence(Strict):
    """The least evidence a rate or ratio needs before it gets a colour; below it: insufficient evidence."""

    min_events: float = Field(default=0, ge=0)  # numerator events (cases, fires, complaints)
    min_denominator: float = Field(default=0, ge=0)  # residents for a rate per 10k, the ratio's denominator


class Funnel(Strict):
    """Judge small areas against what the reference area's rate predicts (funnel-plot control limits).

    At ``levels`` an area's count is compared with the reference's rate times the area's exposure
    (residents, or the ratio's denominator): exact Poisson or binomial tail probabilities, adjusted for
    every cell judged this way in the tree (Benjamini–Hochberg); ``yellow`` and ``red`` are the
    confidence levels whose complement the adjusted probability must fall below.
    """

    levels: tuple[Literal["district", "street", "community", "grid"], ...] = ("community", "grid")
    yellow: float = Field(default=0.95, gt=0.5, lt=1)
    red: float = Field(default=0.998, gt=0.5, lt=1)
    reference: Literal["district", "street", "community"] = "district"

    @model_validator(mode="after")
    def _ordered(self) -> Funnel:
        if not self.yellow < self.red:
            raise ValueError(f"funnel: yellow ({self.yellow}) must be below red ({self.red})")
        if LEVEL_NAMES.index(self.reference) >= min(LEVEL_NAMES.index(lv) for lv in self.levels):
            raise ValueError(f"funnel: reference {self.reference} must lie above every funnel level")
        return self


class Indicator(Strict):
    """One indicator as declared in the catalog."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: Name
    tier: Literal["macro", "panel"]
    group: str
    section: Name | None = None  # a heading within the panel or domain, for the dashboard's lists
    unit: str = ""
    description: str = Field(min_length=1)
    source: Source
    rollup: Literal["sum", "mean", "ratio", "rate_per_10k", "max", "min"]
    direction: Literal["higher_is_worse", "lower_is_worse", "band"]
    thresholds: Thresholds
    hysteresis: float = Field(default=0.0, ge=0)
    min_duration: float = 0.0
    clear_after: float | None = None  # a warning clears once clear this long (default: min_duration)
    stale_after: float = 900.0
    levels: tuple[Literal["district", "street", "community", "grid"], ...] = LEVEL_NAMES  # where it is judged
    evidence: Evidence | None = None
    funnel: Funnel | None = None
    weight: float = Field(default=1.0, ge=0)
    overrides: tuple[Override, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _judged_where_sampled(cls, data: object) -> object:
        """Judge an indicator read from a level's own samples at that level, unless ``levels`` says otherwise."""
        if isinstance(data, dict) and "levels" not in data and isinstance(data.get("source"), dict):
            level = data["source"].get("level")
            if isinstance(level, str) and level in LEVEL_NAMES:
                return {**data, "levels": [level]}
        return data

    @model_validator(mode="before")
    @classmethod
    def _funnel_keeps_firing(cls, data: object) -> object:
        """Give a funnel-judged indicator without ``clear_after`` one of at least FUNNEL_CLEAR_S.

        Its limits move with every other cell of its Benjamini-Hochberg family, so a cell near them
        would flip as the others change (a grid's rental registration share flipped ten times in 45
        minutes); like Prometheus's ``keep_firing_for``, its warning clears only after a quarter hour clear.
        """
        if not isinstance(data, dict) or data.get("funnel") is None or data.get("clear_after") is not None:
            return data
        try:
            held = parse_duration(data.get("min_duration", 0.0))
        except (TypeError, ValueError):
            return data  # the field's own validator says what is wrong with it
        return {**data, "clear_after": max(held, FUNNEL_CLEAR_S)}

    @field_validator("min_duration", "clear_after", "stale_after", mode="before")
    @classmethod
    def _duration(cls, value: str | float | None) -> float | None:
        return None if value is None else parse_duration(value)

    @property
    def clear_s(self) -> float:
        """Seconds a warning's value must stay clear before the warning clears."""
        return self.min_duration if self.clear_after is None else self.clear_after

    @model_validator(mode="after")
    def _consistent(self) -> Indicator:
        groups = DOMAINS if self.tier == "macro" else PANELS
        if self.group not in groups:
            raise ValueError(f"group: {self.group!r} is not one of the {self.tier} groups: {', '.join(groups)}")
        if (self.rollup == "ratio") != (self.source.numerator is not None):
            raise ValueError("rollup: ratio needs source numerator/denominator, and only ratio takes them")
        check_order(self.direction, self.thresholds.yellow, self.thresholds.red, "thresholds")
        self._check_statistics()
        for i, o in enumerate(self.overrides):
            check_order(self.direction, o.yellow, o.red, f"overrides.{i}")
        return self


    def _check_statistics(self) -> None:
        if not self.levels or len(set(self.levels)) != len(self.levels):
            raise ValueError("levels: name each level at most once, at least one")
        counted = ("ratio", "rate_per_10k", "sum")
        own = self.source.level
        if own is not None and self.levels != (own,):
            raise ValueError(f"levels: an indicator read from the {own}'s own samples is judged at {own} only, "
                             f"not at {', '.join(self.levels)}")
        if own is not None and self.funnel is not None:
            raise ValueError(f"funnel: limits from the grids below need grid samples, not the {own}'s own")
        if self.evidence is not None and self.rollup not in ("ratio", "rate_per_10k"):
            raise ValueError(f"evidence: only a ratio or a rate_per_10k has events to count, not {self.rollup}")
        if self.funnel is not None:
            if self.rollup not in counted or self.direction == "band":
                raise ValueError(f"funnel: needs a count or rate ({', '.join(counted)}) with one direction, "
                                 f"not {self.rollup} / {self.direction}")
            if self.direction == "lower_is_worse" and self.rollup != "ratio":
                raise ValueError("funnel: lower_is_worse only for a ratio (a share of successes)")
            if not set(self.funnel.levels) <= set(self.levels):
                raise ValueError(f"funnel: levels {list(self.funnel.levels)} must be among the judged levels")


def check_order(direction: str, yellow: Bound, red: Bound, where: str) -> None:
    """Refuse thresholds whose order contradicts the direction (red must be worse than yellow)."""
    band = direction == "band"
    if band != isinstance(yellow, tuple) or band != isinstance(red, tuple):
        raise ValueError(f"{where}: direction {direction} takes {'[low, high] pairs' if band else 'single numbers'}")
    if direction == "higher_is_worse" and not yellow < red:
        raise ValueError(f"{where}: yellow ({yellow}) must be below red ({red}) for higher_is_worse")
    if direction == "lower_is_worse" and not yellow > red:
        raise ValueError(f"{where}: yellow ({yellow}) must be above red ({red}) for lower_is_worse")
    if band and not (red[0] <= yellow[0] < yellow[1] <= red[1]):
        raise ValueError(f"{where}: band needs red low <= yellow low < yellow high <= red high, got {yellow} / {red}")


class Profile(Strict):
    """A named threshold profile (flood season, holiday, large event), active by dates or by an operator."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: Name
    start: str | None = Field(default=None, pattern=r"^\d{2}-\d{2}$")  # MM-DD, may wrap the year end
    end: str | None = Field(default=None, pattern=r"^\d{2}-\d{2}$")


class CatalogFile(Strict):
    """One YAML file: indicators, and optionally profiles."""

    indicators: tuple[Indicator, ...] = ()
    profiles: tuple[Profile, ...] = ()
