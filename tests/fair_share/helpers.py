"""Helpers of the fair-share tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SentLater:
    """A job context's `send` that records what it was asked to send: (kind, job id, delay ms)."""

    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def __call__(self, kind: str, job_id: str, delay_ms: int = 0) -> None:
        self.calls.append((kind, job_id, delay_ms))
