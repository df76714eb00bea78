"""Synthetic complaints for the reports benchmark: a year of realistic-looking load.

Distributions: types skewed (产品质量 > 物流问题 > …), departments by type, a busy Monday
and a quiet weekend, office-hour peaks, growth over the year and a 双十一 surge in
mid-November; lognormal response and resolution times that differ by department; status by
age (old complaints mostly closed, about 70 % closed overall); surveys answered for ~40 % of
closed complaints; SLA timers (warning / breached / escalated) for the accept and handle
steps, fired when the step ran late. Rows are generated in time order, as they would arrive.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

TYPES = {
    "产品质量": 0.34,
    "物流问题": 0.26,
    "服务态度": 0.16,
    "退换货": 0.11,
    "账单问题": 0.06,
    "安装维修": 0.04,
    "其他": 0.03,
}
DEPARTMENT_OF_TYPE = {
    "产品质量": "product",
    "物流问题": "logistics",
    "退换货": "logistics",
    "账单问题": "finance",
}
# Resolution time multiplier per department (logistics waits on carriers, cs answers itself).
DEPARTMENT_PACE = {"product": 1.2, "logistics": 1.5, "support": 0.8, "finance": 1.0, "cs": 0.4}
CHANNELS = {"service": 0.62, "staff-wecom": 0.18, "staff-dingtalk": 0.12, "playground": 0.08}
WEEKDAY_WEIGHT = (1.25, 1.2, 1.1, 1.05, 1.0, 0.7, 0.6)  # Monday .. Sunday
HOUR_WEIGHT = (
    0.15, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 1.0, 1.5, 1.8, 1.6,
    1.1, 1.3, 1.6, 1.7, 1.5, 1.2, 1.0, 1.0, 0.9, 0.7, 0.45, 0.25,
)  # fmt: skip
PRODUCTS = [f"型号{chr(65 + i // 10)}{i % 10 + 1:02d}" for i in range(40)]
PRODUCT_WEIGHT = [1 / (rank + 1) ** 1.1 for rank in range(len(PRODUCTS))]  # Zipf-like
SCORES = {5: 0.48, 4: 0.27, 3: 0.11, 2: 0.06, 1: 0.08}
LOCAL = timedelta(hours=8)  # Asia/Shanghai has no DST: local = UTC + 8 h

COMPLAINT_COLUMNS = (
    "id", "number", "form", "flow", "values", "status", "type", "priority", "channel",
    "department", "assignee", "current_step", "created_at", "updated_at", "first_response_at",
    "resolved_at", "closed_at", "reassigned", "reopened",
)  # fmt: skip
TIMER_COLUMNS = ("complaint_id", "subject", "step_id", "level", "due_at", "status", "fired_at")
ANSWER_COLUMNS = ("complaint_id", "score", "comment", "channel", "answered_at")


def _status_weights(age_days: float) -> dict[str, float]:
    if age_days < 1:
        return {"new": 35, "in_progress": 45, "resolved": 10, "closed": 8, "cancelled": 2}
    if age_days < 3:
        return {"new": 10, "in_progress": 40, "resolved": 20, "closed": 27, "cancelled": 3}
    if age_days < 14:
        return {"new": 3, "in_progress": 17, "resolved": 15, "closed": 60, "cancelled": 5}
    # Old and still open: mostly 待回访 that nobody followed up; a few stuck in handling.
    return {"new": 0.3, "in_progress": 2, "resolved": 17, "closed": 72, "cancelled": 8.7}


@dataclass
class Batch:
    complaints: list[tuple[Any, ...]] = field(default_factory=list)
    timers: list[tuple[Any, ...]] = field(default_factory=list)
    answers: list[tuple[Any, ...]] = field(default_factory=list)


class ComplaintFactory:
    """Deterministic (seeded) generator of complaint, timer and survey rows."""

    def __init__(self, total: int, now: datetime, *, seed: int = 47, days: int = 365):
        self.total = total
        self.now = now
        self.days = days
        self.draw = random.Random(seed)
        start = now - timedelta(days=days)
        self.first_day = (start + LOCAL).replace(hour=0, minute=0, second=0, microsecond=0) - LOCAL
        day_weights = []
        for index in range(days + 1):
            day = self.first_day + timedelta(days=index)
            local_day = day + LOCAL
            weight = WEEKDAY_WEIGHT[local_day.weekday()] * (1 + 0.3 * index / days)
            if local_day.month == 11 and 11 <= local_day.day <= 20:
                weight *= 1.8  # after-双十一 delivery and quality complaints
            day_weights.append(weight)
        self.day_cum = _cumulative(day_weights)
        self.hour_cum = _cumulative(HOUR_WEIGHT)
        self.type_names, self.type_cum = list(TYPES), _cumulative(TYPES.values())
        self.channel_names, self.channel_cum = list(CHANNELS), _cumulative(CHANNELS.values())
        self.product_cum = _cumulative(PRODUCT_WEIGHT)
        self.score_names, self.score_cum = list(SCORES), _cumulative(SCORES.values())

    def _pick(self, names: list[Any], cum: list[float]) -> Any:
        return self.draw.choices(names, cum_weights=cum, k=1)[0]

    def _created_times(self) -> list[datetime]:
        """Every creation time, in time order (rows arrive, and are stored, chronologically)."""
        count = self.total
        days = self.draw.choices(range(len(self.day_cum)), cum_weights=self.day_cum, k=count)
        hours = self.draw.choices(range(24), cum_weights=self.hour_cum, k=count)
        times = []
        for day, hour in zip(days, hours, strict=True):
            offset = timedelta(days=day, hours=hour, seconds=self.draw.randrange(3600))
            moment = self.first_day + offset
            # The last day is partial: fold what lies past `now` back a week (same weekday).
            while moment >= self.now:
                moment -= timedelta(days=7)
            times.append(moment)
        times.sort()
        return times

    def _lognormal(self, median: timedelta, sigma: float) -> timedelta:
        return median * math.exp(self.draw.gauss(0, sigma))

    def batches(self, size: int) -> Iterator[Batch]:
        batch = Batch()
        for complaint_id, created in enumerate(self._created_times(), start=1):
            self._one(complaint_id, created, batch)
            if len(batch.complaints) >= size:
                yield batch
                batch = Batch()
        if batch.complaints:
            yield batch

    def _one(self, complaint_id: int, created: datetime, batch: Batch) -> None:
        draw, now = self.draw, self.now
        kind = self._pick(self.type_names, self.type_cum)
        department = DEPARTMENT_OF_TYPE.get(kind, "support")
        if kind == "退换货" and draw.random() < 0.5 or draw.random() < 0.08:
            department = "cs"
        weights = _status_weights((now - created) / timedelta(days=1))
        status = draw.choices(list(weights), weights=list(weights.values()), k=1)[0]
        first = resolved = closed = None
        if status != "new" and not (status == "cancelled" and draw.random() < 0.5):
            first = min(created + self._lognormal(timedelta(minutes=40), 1.1), now)
        if status in ("resolved", "closed") and first is not None:
            pace = DEPARTMENT_PACE[department]
            resolved = min(first + self._lognormal(timedelta(hours=18) * pace, 0.9), now)
        if status == "closed" and resolved is not None:
            closed = min(resolved + self._lognormal(timedelta(hours=20), 0.8), now)
        step = {"new": "accept", "in_progress": "handle", "resolved": "followup"}.get(status)
        product = self._pick(PRODUCTS, self.product_cum) if draw.random() < 0.65 else None
        local_date = (created + LOCAL).strftime("%Y%m%d")
        number = f"TS{local_date}-{complaint_id:07d}"
        reassigned = draw.choices((0, 1, 2), weights=(80, 15, 5), k=1)[0]
        reopened = 1 if closed is not None and draw.random() < 0.06 else 0
        batch.complaints.append(
            (
                complaint_id,
                number,
                "complaint",
                "complaint",
                {"product": product} if product else {},
                status,
                kind,
                "high" if draw.random() < 0.1 else "normal",
                self._pick(self.channel_names, self.channel_cum),
                department,
                f"{department}-{draw.randrange(1, 13):02d}",
                step,
                created,
                closed or resolved or first or created,
                first,
                resolved,
                closed,
                reassigned,
                reopened,
            )
        )
        self._timers(
            batch,
            complaint_id,
            number,
            created,
            first,
            "accept",
            ((timedelta(hours=1.5), "warning"), (timedelta(hours=2), "breached")),
        )
        if first is not None and status != "cancelled":
            self._timers(batch, complaint_id, number, first, resolved, "handle",
                         ((timedelta(hours=20), "warning"), (timedelta(hours=24), "breached"),
                          (timedelta(hours=48), "escalated")))  # fmt: skip
        if closed is not None and draw.random() < 0.4:
            answered = min(closed + self._lognormal(timedelta(hours=2), 1.0), now)
            score = self._pick(self.score_names, self.score_cum)
            batch.answers.append((complaint_id, score, None, "service", answered))

    def _timers(
        self,
        batch: Batch,
        complaint_id: int,
        number: str,
        started: datetime,
        finished: datetime | None,
        step: str,
        levels: tuple[tuple[timedelta, str], ...],
    ) -> None:
        for limit, level in levels:
            due = started + limit
            if (finished or self.now) > due and due <= self.now:
                status, fired = "fired", due + timedelta(seconds=self.draw.randrange(1, 60))
            elif finished is None:
                status, fired = "pending", None
            else:
                status, fired = "cancelled", None
            batch.timers.append(
                (complaint_id, f"{number}:{step}:1", step, level, due, status, fired)
            )


def _cumulative(weights: Any) -> list[float]:
    out, total = [], 0.0
    for weight in weights:
        total += weight
        out.append(total)
    return out


def as_dicts(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Rows as column dicts for SQLAlchemy executemany (SQLite path)."""
    return [dict(zip(columns, row, strict=True)) for row in rows]


BENCH_NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai
