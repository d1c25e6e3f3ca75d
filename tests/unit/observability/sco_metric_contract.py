"""The metric contract shared by the server, the shipped rules and the dashboard.

Every PromQL expression we ship must only use these names and labels; a typo in a rule
or a panel gives an alert that never fires or a panel that stays empty, silently.
"""

import re
from dataclasses import dataclass, field

QUEUES = frozenset({"events", "metrics", "risk", "remediation", "chat", "dead_letter"})
TARGET_LABELS = frozenset({"job", "instance"})
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: its type, label names and the closed sets of label values."""

    metric_type: str
    labels: frozenset[str] = frozenset()
    values: dict[str, frozenset[str]] = field(default_factory=dict)


def _spec(metric_type: str, /, *labels: str, **values: set[str]) -> MetricSpec:
    return MetricSpec(metric_type, frozenset(labels), {k: frozenset(v) for k, v in values.items()})


CONTRACT: dict[str, MetricSpec] = {
    "smartcloudops_http_requests_total": _spec("counter", "route", "method", "status"),
    "smartcloudops_http_request_duration_seconds": _spec("histogram", "route"),
    "smartcloudops_events_published_total": _spec("counter", "type", "queue", queue=QUEUES),
    "smartcloudops_publish_failures_total": _spec("counter", "queue", queue=QUEUES),
    "smartcloudops_chat_edge_answers_total": _spec("counter"),
    "smartcloudops_events_consumed_total": _spec(
        "counter",
        "type",
        "outcome",
        outcome={"processed", "duplicate", "failed", "dead_lettered"},
    ),
    "smartcloudops_queue_depth": _spec("gauge", "queue", queue=QUEUES),
    "smartcloudops_queue_consumers": _spec("gauge", "queue", queue=QUEUES),
    "smartcloudops_task_duration_seconds": _spec("histogram", "task"),
    "smartcloudops_task_failures_total": _spec(
        "counter", "task", "kind", kind={"transient", "permanent"}
    ),
    "smartcloudops_inference_batch_size": _spec("histogram"),
    "smartcloudops_inference_duration_seconds": _spec("histogram"),
    "smartcloudops_anomaly_score": _spec("histogram"),
    "smartcloudops_risk_score": _spec("histogram"),
    "smartcloudops_remediation_steps_total": _spec(
        "counter",
        "action",
        "outcome",
        outcome={"succeeded", "failed", "dry_run", "refused", "skipped_duplicate"},
    ),
    "smartcloudops_guard_refusals_total": _spec("counter", "reason"),
    "smartcloudops_audit_rows_written_total": _spec("counter", "kind"),
    "smartcloudops_audit_chain_ok": _spec("gauge"),
    "smartcloudops_audit_chain_last_verified_timestamp_seconds": _spec("gauge"),
}

# Prometheus' own series that the shipped expressions may use besides ours.
FOREIGN_METRICS: dict[str, MetricSpec] = {"up": _spec("gauge")}

ALL_LABELS = frozenset().union(*(s.labels for s in CONTRACT.values())) | TARGET_LABELS | {"le"}

AGGREGATORS = frozenset(
    "sum min max avg group stddev stdvar count count_values bottomk topk quantile".split()
)
KEYWORDS = frozenset(
    "and or unless bool offset by without on ignoring group_left group_right".split()
)
GROUPING = frozenset("by without on ignoring group_left group_right".split())

_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[smhdwy]*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^=<>{}(),@])
  | (?P<space>\s+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Selector:
    """A vector selector found in an expression: metric name and its label matchers."""

    name: str
    matchers: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Parsed:
    selectors: tuple[Selector, ...]
    grouping_labels: frozenset[str]


def tokenize(expr: str) -> list[tuple[str, str]]:
    """Split a PromQL expression into (kind, text) tokens, whitespace dropped."""
    tokens, pos = [], 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise ValueError(f"cannot tokenize {expr[pos : pos + 20]!r} in {expr!r}")
        if match.lastgroup != "space":
            tokens.append((match.lastgroup, match.group()))
        pos = match.end()
    return tokens


def _unquote(text: str) -> str:
    return text[1:-1]


def _read_matchers(tokens, i):
    """Read `{label op "value", ...}` starting at the `{`; return matchers and next index."""
    matchers, i = [], i + 1
    while tokens[i][1] != "}":
        label, op, value = tokens[i][1], tokens[i + 1][1], _unquote(tokens[i + 2][1])
        matchers.append((label, op, value))
        i += 3
        if tokens[i][1] == ",":
            i += 1
    return tuple(matchers), i + 1


def _read_label_list(tokens, i):
    """Read `(a, b)` starting at the `(`; return the labels and next index."""
    labels, i = [], i + 1
    while tokens[i][1] != ")":
        if tokens[i][0] == "ident":
            labels.append(tokens[i][1])
        i += 1
    return labels, i + 1


def parse(expr: str) -> Parsed:
    """Find every vector selector and every grouping label of a PromQL expression."""
    tokens = tokenize(expr) + [("end", "")]
    selectors, grouping, i = [], set(), 0
    while tokens[i][0] != "end":
        kind, text = tokens[i]
        following = tokens[i + 1][1]
        if kind == "ident" and text in GROUPING and following == "(":
            labels, i = _read_label_list(tokens, i + 1)
            grouping.update(labels)
        elif kind == "ident" and (following == "(" or text in KEYWORDS | AGGREGATORS):
            i += 1
        elif kind == "ident" and following == "{":
            matchers, i = _read_matchers(tokens, i + 1)
            selectors.append(Selector(text, matchers))
        elif kind == "ident":
            selectors.append(Selector(text, ()))
            i += 1
        elif text == "{":
            raise ValueError(f"selector without a metric name in {expr!r}")
        else:
            i += 1
    return Parsed(tuple(selectors), frozenset(grouping))


def family_of(name: str) -> str | None:
    """The contract family a sample name belongs to (histogram series fold in)."""
    if name in CONTRACT or name in FOREIGN_METRICS:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and CONTRACT.get(base, MetricSpec("")).metric_type == "histogram":
            return base
    return None


def _regex_alternatives(value: str) -> list[str] | None:
    """The words of a plain `a|b|c` regex, None for anything fancier or templated."""
    if re.fullmatch(r"[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*", value):
        return value.split("|")
    return None


def _matcher_problems(name: str, spec: MetricSpec, matchers) -> list[str]:
    problems = []
    allowed = spec.labels | TARGET_LABELS | ({"le"} if name.endswith("_bucket") else set())
    for label, op, value in matchers:
        if label not in allowed:
            problems.append(f"{name} has no label {label!r}")
            continue
        closed = spec.values.get(label)
        if closed is None:
            continue
        words = [value] if op in ("=", "!=") else _regex_alternatives(value) or []
        problems += [f"{name}{{{label}}} never takes {w!r}" for w in words if w not in closed]
    return problems


def _recorded_problems(selector: Selector, recorded: set[str]) -> list[str]:
    if selector.name not in recorded:
        return [f"recording rule {selector.name} is not defined"]
    return [
        f"{selector.name} has no label {label!r}"
        for label, _, _ in selector.matchers
        if label not in ALL_LABELS
    ]


def contract_problems(expr: str, recorded: set[str]) -> list[str]:
    """Every name, label or label value in `expr` that the contract does not define."""
    parsed = parse(expr)
    problems = [f"unknown label {g!r} in grouping" for g in parsed.grouping_labels - ALL_LABELS]
    for selector in parsed.selectors:
        if ":" in selector.name:
            problems += _recorded_problems(selector, recorded)
            continue
        family = family_of(selector.name)
        if family is None:
            problems.append(f"metric {selector.name} is not in the contract")
            continue
        spec = CONTRACT.get(family) or FOREIGN_METRICS[family]
        problems += _matcher_problems(selector.name, spec, selector.matchers)
    return problems


def families_used(expr: str) -> set[str]:
    """The contract families an expression reads directly."""
    return {
        family
        for selector in parse(expr).selectors
        if (family := family_of(selector.name)) in CONTRACT
    }
