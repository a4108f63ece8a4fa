"""A catalog compiled for scoring: parsed formulas, rule codes and per-indicator columns, built once per catalog.

Rows follow the catalog's indicator order (an indicator after those it reads). The engine keeps
only state (values, tracks, what it wrote) and reads everything else from here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np

from cityvitals.areas import LEVELS
from cityvitals.vocabulary import DOMAINS
from indicators import rollup, thresholds
from indicators.formula import FUNCTIONS, Call, compile_formula
from indicators.loader import Catalog
from indicators.schema import MONTHLY_S, Indicator


@dataclass(frozen=True)
class Formulas:
    """Each indicator's parsed formulas (``value``, or ``num`` and ``den``) and the names they read."""

    parsed: dict[str, dict[str, ast.AST]]
    inputs: dict[str, set[str]]
    calls: dict[str, dict[str, Call | None]]  # the parsed formulas compiled (formula.compile_formula)


@dataclass(frozen=True)
class Evidence:
    """Per indicator row: the minimum evidence (0 where none) and the funnel limits' settings."""

    has_evidence: np.ndarray  # (n, 1)
    min_events: np.ndarray  # (n, 1)
    min_denominator: np.ndarray  # (n, 1)
    funnel_yellow: np.ndarray  # (n,), NaN where no funnel
    funnel_red: np.ndarray
    funnel_reference: list[str]  # the level whose rate a funnel expects ("" where none)
    funnel_rows: dict[str, np.ndarray]  # per level, the rows judged by funnel limits there
    funnel_all: np.ndarray  # every row judged by funnel limits at some level: one family


@dataclass(frozen=True)
class CompiledCatalog:
    """What scoring needs of one catalog, computed once (see :func:`compile_catalog`)."""

    catalog: Catalog
    ind_ids: list[str]
    formulas: Formulas
    labels: list[str]  # rule labels: rule codes index this list
    rules: dict[str, dict[int, tuple[str, str, str]]]  # indicator -> rule code -> (label, yellow, red)
    switchable: tuple  # the overrides a schedule or profile switches (thresholds.switchable)
    metrics: list[str]  # every metric the catalog reads, sorted
    primary: list[str]  # per row, the first metric it reads (through other indicators if need be): names its feed
    reads: list[list[str]]  # per row, the metrics it reads, directly or through the indicators it reads
    stale_after: np.ndarray  # (n, 1) seconds
    hysteresis: np.ndarray  # (n, 1)
    min_duration: np.ndarray  # (n, 1) seconds
    clear_after: np.ndarray  # (n, 1) seconds
    scale: np.ndarray  # (n, 1)
    higher: np.ndarray  # (n,): higher is worse (anything but lower_is_worse)
    binomial: np.ndarray  # (n,): a ratio of events to trials
    per_resident: np.ndarray  # (n, 1): a rate per 10,000 residents (not judged where the population is unknown)
    judged_at: dict[str, np.ndarray]  # per level, (n, 1): whether each indicator is judged there
    rule_rows: dict[str, np.ndarray]  # per roll-up rule, the rows that roll up by it
    oldest_groups: list[np.ndarray]  # rows of each domain's macro indicators, then the rest (a partition)
    evidence: Evidence
    own_rows: dict[str, np.ndarray]  # per level with any, the rows read from that level's own samples
    own_metrics: dict[str, list[str]]  # per such level, the metrics those rows read (sorted)
    tiers: np.ndarray  # (n,) tier, group and weight of each row, for health scores and summaries
    groups: np.ndarray
    weights: np.ndarray


def compile_catalog(catalog: Catalog) -> CompiledCatalog:
    """Compile a validated catalog for scoring."""
    inds = catalog.indicators
    labels = thresholds.rule_labels(catalog)
    column = lambda attr: np.array([[float(getattr(i, attr))] for i in inds]).reshape(-1, 1)  # noqa: E731
    own = {level: np.array([k for k, i in enumerate(inds) if i.source.level == level], dtype=int)
           for level in sorted({i.source.level for i in inds} - {None})}
    return CompiledCatalog(
        catalog=catalog, ind_ids=[i.id for i in inds], formulas=_formulas(inds), labels=labels,
        rules=thresholds.rule_texts(catalog, labels), switchable=thresholds.switchable(catalog),
        metrics=sorted({m for i in inds for m in catalog.metric_inputs(i)}),
        primary=[_primary_metric(catalog, i) for i in inds],
        reads=[sorted(_all_metrics(catalog, i)) for i in inds],
        stale_after=column("stale_after"), hysteresis=column("hysteresis"), min_duration=column("min_duration"),
        clear_after=np.array([[i.clear_s] for i in inds]).reshape(-1, 1),
        scale=np.array([[1e4 if i.rollup == "rate_per_10k" else i.source.scale] for i in inds]),
        higher=np.array([i.direction != "lower_is_worse" for i in inds], dtype=bool),
        binomial=np.array([i.rollup == "ratio" for i in inds], dtype=bool),
        per_resident=np.array([[i.rollup == "rate_per_10k"] for i in inds], dtype=bool).reshape(-1, 1),
        judged_at={level: np.array([[level in i.levels] for i in inds], dtype=bool).reshape(-1, 1)
                   for level in LEVELS},
        rule_rows={r: np.array([k for k, i in enumerate(inds) if i.rollup == r], dtype=int) for r in rollup.RULES},
        oldest_groups=_oldest_groups(inds), evidence=_evidence(inds),
        own_rows=own, own_metrics={level: sorted(set().union(*(_all_metrics(catalog, inds[k]) for k in rows)))
                     for level, rows in own.items()},
        tiers=np.array([i.tier for i in inds]), groups=np.array([i.group for i in inds]),
        weights=np.array([i.weight for i in inds]),
    )


def _formulas(inds: tuple[Indicator, ...]) -> Formulas:
    """Parse every formula once; the names each reads (its metrics and indicators)."""
    parsed = {i.id: {k: ast.parse(f, mode="eval").body for k, f in _sources(i).items()} for i in inds}
    inputs = {i: {n.id for tree in p.values() for n in ast.walk(tree) if isinstance(n, ast.Name)} - FUNCTIONS.keys()
              for i, p in parsed.items()}
    calls = {i: {k: compile_formula(tree) for k, tree in p.items()} for i, p in parsed.items()}
    return Formulas(parsed, inputs, calls)


def _sources(ind: Indicator) -> dict[str, str]:
    s = ind.source
    if s.formula is not None:
        return {"value": s.formula}
    if s.numerator is not None:
        return {"num": s.numerator, "den": s.denominator}
    return {}


def _primary_metric(catalog: Catalog, ind: Indicator) -> str:
    """Return the first metric an indicator reads (through other indicators if need be): names its feed."""
    metrics = sorted(catalog.metric_inputs(ind))
    if metrics:
        return metrics[0]
    return _primary_metric(catalog, catalog[sorted(catalog.indicator_inputs(ind))[0]])


def _all_metrics(catalog: Catalog, ind: Indicator) -> set[str]:
    """Metrics an indicator reads, directly or through the indicators it reads."""
    return catalog.metric_inputs(ind).union(
        *(_all_metrics(catalog, catalog[i]) for i in catalog.indicator_inputs(ind)))


def _oldest_groups(inds: tuple[Indicator, ...]) -> list[np.ndarray]:
    """Rows of each domain's macro indicators, then the rest, so oldest data times take one pass.

    Monthly and slower statistics are in none: a CPI of last month is on time, and its age would
    hide the age of the live data that the screens' "data 3 min" is there to show.
    """
    domain_of = np.array([-2 if i.stale_after >= MONTHLY_S else DOMAINS.index(i.group) if i.tier == "macro" else -1
                          for i in inds], dtype=int)
    return [np.flatnonzero(domain_of == k) for k in range(len(DOMAINS))] + [np.flatnonzero(domain_of == -1)]


def _evidence(inds: tuple[Indicator, ...]) -> Evidence:
    """Columns of the minimum evidence (0 where none) and of the funnel's settings per indicator."""
    ev, fun = [i.evidence for i in inds], [i.funnel for i in inds]
    column = lambda xs: np.array(xs, dtype=float).reshape(-1, 1)  # noqa: E731
    funnel_rows = {level: np.array([k for k, f in enumerate(fun) if f is not None and level in f.levels], dtype=int)
                   for level in LEVELS}
    return Evidence(
        has_evidence=np.array([e is not None for e in ev], dtype=bool).reshape(-1, 1),
        min_events=column([e.min_events if e else 0.0 for e in ev]),
        min_denominator=column([e.min_denominator if e else 0.0 for e in ev]),
        funnel_yellow=np.array([f.yellow if f else np.nan for f in fun]),
        funnel_red=np.array([f.red if f else np.nan for f in fun]),
        funnel_reference=[f.reference if f else "" for f in fun], funnel_rows=funnel_rows,
        funnel_all=np.unique(np.concatenate(list(funnel_rows.values()))),
    )
