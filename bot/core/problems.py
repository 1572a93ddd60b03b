"""Input that cannot be used: every reason at once, one sentence each, saying what to fix."""

from __future__ import annotations


class Problems(Exception):
    """The input cannot be used; ``problems`` has one sentence per thing to fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
