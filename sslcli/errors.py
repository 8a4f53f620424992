"""Errors that end a command with a clear message and the right exit code.

* :class:`InputError` and :class:`UsageError` exit 2: bad usage or invalid input.
  The message names the file, the field and what was expected.
* :class:`RunError` exits 1: a failure during a run.
* Anything else exits 1 as ``internal error: <Type>: <msg> (run with --debug for the
  traceback)``.

Tracebacks are shown only with ``--debug`` or ``SSLCLI_DEBUG=1``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from sslcli.api import Problem

EXIT_OK = 0
EXIT_RUN = 1
EXIT_INPUT = 2


class SslcliError(Exception):
    """Base of the errors the CLI turns into a message and an exit code."""

    exit_code = EXIT_RUN


class UsageError(SslcliError):
    """Bad usage: conflicting flags, unknown names, a busy run folder (exit 2)."""

    exit_code = EXIT_INPUT


class InputError(SslcliError):
    """Invalid input: the message names the file, the field and what was expected (exit 2).

    Args:
        path: The offending file (or ``-`` for stdin, or a config key's source).
        field: The field (dotted path) that is wrong; empty when the whole file is.
        expected: What would have been accepted.
        got: What was found (cut to 60 characters).
        code: Problem code such as ``io.missing`` or ``schema.type``.
    """

    exit_code = EXIT_INPUT

    def __init__(
        self,
        path: str,
        field: str = "",
        expected: str = "",
        got: str = "",
        code: str = "input.invalid",
        line: int | None = None,
    ) -> None:
        self.path = str(path)
        self.field = field
        self.expected = expected
        self.got = got
        self.code = code
        self.line = line
        super().__init__(self.format())

    def format(self) -> str:
        """``FILE[:LINE]: FIELD: expected X, got Y``."""
        loc = f"{self.path}:{self.line}" if self.line is not None else self.path
        field = f"{self.field}: " if self.field else ""
        got = f", got {self.got}" if self.got != "" else ""
        return f"{loc}: {field}expected {self.expected}{got}"


class ProblemsError(SslcliError):
    """Several input problems at once (each printed on its own line; exit 2)."""

    exit_code = EXIT_INPUT

    def __init__(self, problems: Iterable[Problem], summary: str = "") -> None:
        self.problems = list(problems)
        self.summary = summary or f"{len(self.problems)} problem(s) found"
        super().__init__("\n".join([p.format() for p in self.problems] + [self.summary]))


class RunError(SslcliError):
    """A failure during a run (exit 1)."""

    exit_code = EXIT_RUN


class Interrupted(SslcliError):
    """The run stopped cleanly at a step boundary after SIGINT/SIGTERM (exit 130/143)."""

    def __init__(self, message: str, exit_code: int = 143) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def cut(value: object, limit: int = 60) -> str:
    """``repr``-like short text of ``value`` for a ``got`` field, at most ``limit`` characters."""
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, str):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
