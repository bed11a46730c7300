"""The monitoring configuration in docker/ (Prometheus scrape config and alert rules, the
Grafana dashboard and its provisioning) and what it takes to check it without promtool:
the metric names a PromQL expression reads, and the names a ``/metrics`` page exposes.

The PromQL reader is deliberately small: it checks that brackets balance and every
function is a PromQL function, and yields the metric names (identifiers that are neither a
function, a keyword nor inside a label matcher, a range or a grouping clause).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DOCKER = Path(__file__).resolve().parents[1] / "docker"
PROMETHEUS_CONFIG = DOCKER / "prometheus" / "prometheus.yml"
ALERT_RULES = DOCKER / "prometheus" / "alerts.yml"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "csms-cluster.json"
DATASOURCES = DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = DOCKER / "grafana" / "provisioning" / "dashboards" / "csms.yml"
COMPOSE = DOCKER / "compose.yaml"

# series Prometheus makes itself for every target
SYNTHETIC = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

FUNCTIONS = frozenset(
    """
    sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk
    abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month
    day_of_week day_of_year days_in_month delta deriv exp floor histogram_quantile
    histogram_count histogram_sum histogram_fraction holt_winters hour idelta increase irate
    label_join label_replace ln log2 log10 minute month predict_linear rate resets round
    scalar sgn sort sort_desc sqrt time timestamp vector year avg_over_time min_over_time
    max_over_time sum_over_time count_over_time quantile_over_time stddev_over_time
    stdvar_over_time last_over_time present_over_time
    """.split()
)
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"}) | GROUPING

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_IDENTIFIER = re.compile(r"(?<![\w:.])[a-zA-Z_:][a-zA-Z0-9_:]*")
_PAIRS = {"(": ")", "{": "}", "[": "]"}


class PromQLError(ValueError):
    pass


def _balanced(expr: str) -> None:
    stack: list[str] = []
    for char in expr:
        if char in _PAIRS:
            stack.append(_PAIRS[char])
        elif char in _PAIRS.values():
            if not stack or stack.pop() != char:
                raise PromQLError(f"unbalanced {char!r} in {expr!r}")
    if stack:
        raise PromQLError(f"unclosed bracket in {expr!r}")


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: " " * len(m.group()), text)


def _blank_enclosed(text: str, opening: str) -> str:
    """``text`` with everything inside ``opening`` brackets blanked (not the brackets)."""
    closing = _PAIRS[opening]
    out, depth = [], 0
    for char in text:
        if char == opening:
            depth += 1
            out.append(char)
        elif char == closing and depth:
            depth -= 1
            out.append(char)
        else:
            out.append(" " if depth else char)
    return "".join(out)


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` reads; raises PromQLError for what is not PromQL."""
    if not expr.strip():
        raise PromQLError("empty expression")
    _balanced(expr)
    text = _blank(expr, _STRING)
    text = _blank_enclosed(_blank_enclosed(text, "{"), "[")
    names: set[str] = set()
    position = 0
    for match in _IDENTIFIER.finditer(text):
        if match.start() < position:
            continue
        word = match.group()
        rest = text[match.end() :].lstrip()
        # a call, or an aggregation with its grouping first: ``sum by (node) (...)``
        called = rest.startswith("(") or re.match(r"(by|without)\s*\(", rest) is not None
        if word in GROUPING:
            if called:  # its label list: skip to the closing bracket
                start = text.index("(", match.end())
                position = text.index(")", start) + 1
            continue
        if word.lower() in KEYWORDS:
            continue
        if called:
            if word not in FUNCTIONS:
                raise PromQLError(f"{word}() is not a PromQL function ({expr!r})")
            continue
        names.add(word)
    return names


def alert_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALERT_RULES.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs() -> list[tuple[str, str]]:
    """``(panel title, expr)`` of every query of the dashboard."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
    ]


def referenced_metrics() -> dict[str, set[str]]:
    """Every metric name the alert rules and the dashboard read, with where."""
    found: dict[str, set[str]] = {}
    for rule in alert_rules():
        for name in metric_names(rule["expr"]):
            found.setdefault(name, set()).add(f"alert {rule['alert']}")
    for title, expr in dashboard_exprs():
        for name in metric_names(expr):
            found.setdefault(name, set()).add(f"panel {title!r}")
    return found


_TYPE = re.compile(r"^# TYPE (\S+) (\S+)$")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]")
_DERIVED = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def exposed_names(page: str) -> set[str]:
    """Every series name a Prometheus text page declares or holds (a histogram declared
    without samples yet still exposes its ``_bucket``, ``_sum`` and ``_count``)."""
    names: set[str] = set()
    for line in page.splitlines():
        declared = _TYPE.match(line)
        if declared:
            name, kind = declared.groups()
            names.add(name)
            names.update(name + suffix for suffix in _DERIVED.get(kind, ()))
            continue
        sample = _SAMPLE.match(line)
        if sample and not line.startswith("#"):
            names.add(sample.group(1))
    return names
