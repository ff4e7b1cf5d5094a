"""The goals, the results of a run, and their rendering: console table, JSON line, Markdown."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    goal: str  # "<= 2.0", ">= 300", "report"
    derived: bool = False

    def passes(self, value: float) -> bool | None:
        if self.goal == "report" or math.isnan(value):
            return None
        op, _, limit = self.goal.partition(" ")
        return value <= float(limit) if op == "<=" else value >= float(limit)


#: The issue's keys, in its order; the JSON line carries exactly these.
METRICS: tuple[Metric, ...] = (
    Metric("cpu_ms_per_reply", "bot CPU per reply (existing chat, short answer)", "ms", "<= 2.0"),
    Metric(
        "cpu_us_per_streamed_token", "extra bot CPU per streamed token (20 ms apart)", "us", "<= 60"
    ),
    Metric(
        "concurrent_streams_per_core",
        "50-token/s streams one core carries (derived)",
        "streams",
        ">= 300",
        derived=True,
    ),
    Metric(
        "wall_s_1000_chats_1s_model",
        "1,000 new chats at once, model 1 s: all answered",
        "s",
        "<= 4.0",
    ),
    Metric(
        "first_text_ms_classifier_400",
        "update -> first visible text, classifier 400 ms, first token 800 ms",
        "ms",
        "<= 850",
    ),
    Metric(
        "refused_leaves_no_trace",
        "refused messages whose speculative answer left no item in the conversation",
        "share",
        ">= 1.0",
    ),
    Metric("stop_to_free_ms", "Stop pressed -> the chat's next message started", "ms", "<= 200"),
    Metric(
        "wall_s_100_chats_default_limits",
        "100 new chats at once, model 1 s, Telegram's default limits: all answered",
        "s",
        "<= 4.8",
    ),
    Metric("overhead_p50_ms", "bot overhead at 100 msg/s, p50", "ms", "report"),
    Metric("overhead_p99_ms", "bot overhead at 100 msg/s, p99", "ms", "<= 50"),
    Metric("first_partial_ms", "first token -> first draft visible, p50", "ms", "<= 100"),
    Metric("rss_mb_10k_chats", "bot RSS after 10,000 chats answered once", "MB", "<= 150"),
    Metric(
        "db_ms_per_message_1m_chats", "storage time per message, 1M chats stored", "ms", "<= 1.0"
    ),
    Metric("replies_per_s", "sustained replies/s at saturation, model latency 0", "1/s", "report"),
    Metric(
        "input_tokens_msg_2000", "long chat: input tokens of the last message", "tokens", "report"
    ),
    Metric(
        "input_growth_ratio", "long chat: input tokens, last message / message 100", "x", "<= 1.5"
    ),
    Metric(
        "input_peak_ratio",
        "long chat: most input of one answer, 2nd half of the run / messages 100 to half",
        "x",
        "<= 1.5",
    ),
    Metric("cached_share", "long chat: cached / input tokens over the run", "share", ">= 0.5"),
    Metric(
        "errors_long_chat", "long chat: messages unanswered or answered in error", "msgs", "<= 0"
    ),
    Metric(
        "input_tokens_text20_after_photos",
        "long chat: input tokens of the 20th text after 10 photos",
        "tokens",
        "report",
    ),
)
KEYS = tuple(m.key for m in METRICS)
#: Keys of the scenarios that run only when named (`--scenario replicas`): in the JSON line
#: only when measured.
NAMED_METRICS: tuple[Metric, ...] = (
    Metric(
        "db_ms_per_message_1m_chats_postgresql",
        "storage time per message, 1M chats stored, PostgreSQL",
        "ms",
        "<= 1.0",
    ),
    Metric(
        "replies_per_s_1_replica_pg",
        "replies/s, closed loop, 1 webhook replica on PostgreSQL, model latency 0",
        "1/s",
        "report",
    ),
    Metric(
        "replies_per_s_2_replicas_pg",
        "replies/s, closed loop, 2 webhook replicas on PostgreSQL, model latency 0",
        "1/s",
        "report",
    ),
    Metric(
        "overhead_p99_ms_2_replicas_pg",
        "added latency with 2 replicas on PostgreSQL (update -> answer, model 0), p99",
        "ms",
        "report",
    ),
)
NAMED_KEYS = tuple(m.key for m in NAMED_METRICS)
ALL_METRICS = METRICS + NAMED_METRICS


@dataclass
class Results:
    """Samples per metric (one per repetition) plus supporting figures and notes."""

    mode: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    extras: dict[str, list[float]] = field(default_factory=dict)
    extra_labels: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # metric key -> how it was measured
    warnings: list[str] = field(default_factory=list)
    profiled: dict[str, int] = field(default_factory=dict)  # profile name -> replies in it

    def add(self, key: str, value: float) -> None:
        if key not in KEYS and key not in NAMED_KEYS:
            raise KeyError(key)
        self.samples.setdefault(key, []).append(float(value))

    def extra(self, key: str, value: float, label: str) -> None:
        self.extras.setdefault(key, []).append(float(value))
        self.extra_labels[key] = label

    def value(self, key: str) -> float:
        values = self.samples.get(key) or self.extras.get(key) or []
        clean = [v for v in values if not math.isnan(v)]
        return statistics.median(clean) if clean else math.nan

    def spread(self, key: str) -> str:
        values = [
            v for v in self.samples.get(key) or self.extras.get(key) or [] if not math.isnan(v)
        ]
        if len(values) < 2:
            return ""
        return f"{_fmt(min(values))}..{_fmt(max(values))}"

    def json_object(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for key in KEYS + tuple(k for k in NAMED_KEYS if k in self.samples):
            value = self.value(key)
            out[key] = round(value, 3) if math.isfinite(value) else None
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "metrics": self.json_object(),
            "samples": self.samples,
            "extras": {k: self.value(k) for k in self.extras},
            "extra_samples": self.extras,
            "notes": self.notes,
            "warnings": self.warnings,
        }


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _status(metric: Metric, value: float) -> str:
    verdict = metric.passes(value)
    if verdict is None:
        return "n/a" if math.isnan(value) and metric.goal != "report" else "-"
    return "PASS" if verdict else "MISS"


def _rows(results: Results) -> list[tuple[str, str, str, str, str, str]]:
    rows = []
    for metric in ALL_METRICS:
        if metric.key not in results.samples:
            continue
        value = results.value(metric.key)
        rows.append(
            (
                metric.key,
                _fmt(value),
                metric.unit,
                metric.goal,
                _status(metric, value),
                results.spread(metric.key),
            )
        )
    return rows


def console_table(results: Results) -> str:
    header = ("key", "value", "unit", "goal", "status", "range")
    rows = _rows(results)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        padded = [
            c.rjust(w) if i == 1 else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    out = [f"benchmark results ({results.mode}; median of repetitions where repeated)", ""]
    out.append(line(header))
    out.append(line(tuple("-" * w for w in widths)))
    out.extend(line(r) for r in rows)
    if results.extras:
        out += ["", "supporting figures:"]
        width = max(len(k) for k in results.extras)
        for key in results.extras:
            spread = results.spread(key)
            out.append(
                f"  {key.ljust(width)}  {_fmt(results.value(key)).rjust(8)}  "
                f"{results.extra_labels[key]}{f' [{spread}]' if spread else ''}"
            )
    if results.notes:
        out += ["", "how:"]
        out.extend(f"  {key}: {note}" for key, note in results.notes.items())
    if results.warnings:
        out += ["", "warnings:"]
        out.extend(f"  ! {w}" for w in results.warnings)
    return "\n".join(out)


def markdown_report(results: Results, context: dict[str, str]) -> str:
    out = [f"# Benchmark report ({results.mode})", ""]
    out.extend(f"- {k}: {v}" for k, v in context.items())
    out += [
        "",
        "| key | what | value | unit | goal | status | range |",
        "|---|---|---:|---|---|---|---|",
    ]
    labels = {m.key: m.label for m in ALL_METRICS}
    for key, value, unit, goal, status, spread in _rows(results):
        out.append(f"| `{key}` | {labels[key]} | {value} | {unit} | {goal} | {status} | {spread} |")
    if results.extras:
        out += [
            "",
            "## Supporting figures",
            "",
            "| figure | value | what | range |",
            "|---|---:|---|---|",
        ]
        for key in results.extras:
            out.append(
                f"| `{key}` | {_fmt(results.value(key))} | {results.extra_labels[key]} | "
                f"{results.spread(key)} |"
            )
    if results.notes:
        out += ["", "## How each figure was measured", ""]
        out.extend(f"- `{k}`: {v}" for k, v in results.notes.items())
    if results.warnings:
        out += ["", "## Warnings", ""]
        out.extend(f"- {w}" for w in results.warnings)
    return "\n".join(out) + "\n"
