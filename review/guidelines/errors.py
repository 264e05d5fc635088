"""Errors raised while loading a brand's guideline files."""

from __future__ import annotations

from ..errors import ConfigError


class GuidelineError(Exception):
    """One problem in one guideline file, with the line it is on when known."""

    def __init__(self, file: str, line: int | None, reason: str):
        self.file = str(file)
        self.line = line
        self.reason = reason
        super().__init__(f"{self.file}:{line}: {reason}")


class GuidelineLoadError(ConfigError):
    """A brand's guidelines could not be loaded; `errors` lists every problem in every file."""

    def __init__(self, errors: list[GuidelineError]):
        self.errors = list(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"{len(self.errors)} problem(s) in brand guidelines:\n{lines}")
