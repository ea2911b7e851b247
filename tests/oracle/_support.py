"""Helpers for the differential tests: oracle availability, failure reports, output assertions.

Without Node.js or an installed oracle the tests are skipped with the reason; under ``CI=true`` that
is a failure instead (CI must run them). ``make oracle`` installs the oracle.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from hub.testing.oracle import (
    compare_outputs,
    format_difference,
    oracle_unavailable_reason,
)
from hub.testing.oracle_setup import default_oracle_dir, repo_root

Json = dict[str, Any]
Replay = Callable[[Json], list[Json]]
FAILURES_DIR = repo_root() / ".cache" / "oracle-failures"


def in_ci() -> bool:
    """True when running under CI (``CI=true``), where a missing oracle is a failure."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_oracle() -> None:
    """Skip (or, under CI, fail) the calling test when the oracle cannot run here."""
    reason = oracle_unavailable_reason(default_oracle_dir())
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"differential tests need the oracle under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def save_failure(name: str, scenario: Json, report: str) -> Path:
    """Write the scenario (and the report) to ``.cache/oracle-failures/<name>.json`` / ``.txt``.

    The file is overwritten by the next failure of the same name, so for a hypothesis test it ends up
    holding the last example run, which is the shrunk one.
    """
    FAILURES_DIR.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    path = FAILURES_DIR / f"{safe}.json"
    path.write_text(json.dumps(scenario, indent=1) + "\n")
    path.with_suffix(".txt").write_text(report + "\n")
    return path


def assert_same_output(
    name: str,
    scenario: Json,
    expected: Sequence[Mapping[str, Any]],
    actual: Sequence[Mapping[str, Any]],
    *,
    show_scenario: bool = False,
) -> None:
    """Fail with the scenario name and the first differing line (with context) if outputs disagree."""
    diff = compare_outputs(expected, actual)
    if diff is None:
        return
    labels = [s.get("label") for s in scenario.get("steps", [])]
    report = format_difference(name, diff, labels)
    path = save_failure(name, scenario, report)
    message = f"{report}\n  scenario saved to {path}"
    if show_scenario:
        message += "\n  scenario: " + json.dumps(scenario, separators=(",", ":"))[:20000]
    pytest.fail(message, pytrace=False)
