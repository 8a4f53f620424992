"""Input paths: reading file lists (``-`` = stdin), existence and modality checks.

Shared by ``validate``, ``pretrain``, ``embed`` and ``evaluate`` so that every
command reports bad input the same way: every problem, one per line, exit 2; or,
with ``--skip-bad``, the bad paths are left out and listed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sslcli.api import Problem
from sslcli.errors import ProblemsError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from sslcli.api import Modality


def expand_paths(args: Iterable[str], stdin: IO[str] | None = None,
                 null_separated: bool = False) -> list[str]:
    """Arguments with ``-`` replaced by the paths listed on stdin (one per line, or NUL)."""
    out: list[str] = []
    for arg in args:
        if arg == "-":
            text = (stdin or sys.stdin).read()
            sep = "\0" if null_separated else "\n"
            out.extend(p.strip("\r\n") if not null_separated else p
                       for p in text.split(sep) if p.strip())
        else:
            out.append(arg)
    if not out:
        raise UsageError("PATH: expected at least one path (or '-' to read a list from stdin)")
    return out


def missing_problems(paths: Iterable[str]) -> list[Problem]:
    """An ``io.missing`` problem for every path that does not exist."""
    return [
        Problem(path=p, field="", expected="an existing file or folder", got="no such path",
                code="io.missing")
        for p in paths
        if not Path(p).exists()
    ]


def check_inputs(modality: Modality, paths: list[str], strict: bool = False) -> list[Problem]:
    """Existence checks, then the modality's schema and content checks on existing paths."""
    problems = missing_problems(paths)
    missing = {p.path for p in problems}
    existing = [Path(p) for p in paths if p not in missing]
    if existing and modality.validate is not None:
        problems.extend(modality.validate(existing, strict))
    return problems


def echo_validation(problems: list[Problem], n_paths: int, as_json: bool,
                    strict: bool) -> bool:
    """Print ``validate``'s report (problem lines on stderr, or JSON lines on stdout, then
    the count line); True when there is an error (the caller exits 2)."""
    import json

    import click

    for problem in problems:
        if as_json:
            click.echo(json.dumps(problem.to_dict(), ensure_ascii=False))
        else:
            click.echo(problem.format(), err=True)
    errors = [p for p in problems if is_error(p, strict)]
    click.echo(f"{n_paths} path(s) checked: {len(errors)} error(s), "
               f"{len(problems) - len(errors)} warning(s)", err=True)
    return bool(errors)


def is_error(problem: Problem, strict: bool) -> bool:
    """Errors always count; warnings count in strict mode."""
    return problem.severity == "error" or strict


def bad_paths(problems: Iterable[Problem], strict: bool = False) -> set[str]:
    """The paths that hold at least one (counting) problem."""
    return {p.path for p in problems if is_error(p, strict)}


def valid_paths(modality: Modality, paths: list[str],
                skip_bad: bool) -> tuple[list[str], list[Problem]]:
    """The paths to use and the problems of those left out.

    Without ``skip_bad`` any invalid path stops the command (exit 2, every problem
    listed); with it, invalid paths are left out and each problem is echoed on stderr.
    """
    problems = check_inputs(modality, paths)
    bad = bad_paths(problems)
    if not bad:
        return paths, []
    if not skip_bad:
        raise ProblemsError(problems, f"{len(bad)} input path(s) are invalid; fix them or "
                                      "pass --skip-bad to leave them out")
    for problem in problems:
        print(f"skipped: {problem.format()}", file=sys.stderr)
    kept = [p for p in paths if p not in bad]
    if not kept:
        raise ProblemsError(problems, "--skip-bad: every input path is invalid, nothing is left")
    print(f"skipped {len(bad)} of {len(paths)} input path(s)", file=sys.stderr)
    return kept, [p for p in problems if p.path in bad]
