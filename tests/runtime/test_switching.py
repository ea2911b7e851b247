"""The thread switch interval of hub processes with a database writer thread."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from hub.runtime._switching import WRITER_SWITCH_INTERVAL_S, shorten_switch_interval


@pytest.fixture(autouse=True)
def restored_interval() -> Iterator[None]:
    """Leave the interpreter's interval as it was."""
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_default_interval_is_shortened() -> None:
    sys.setswitchinterval(0.005)
    assert shorten_switch_interval() == pytest.approx(0.005)
    assert sys.getswitchinterval() == pytest.approx(WRITER_SWITCH_INTERVAL_S)


def test_a_shorter_interval_set_by_the_deployment_is_kept() -> None:
    sys.setswitchinterval(0.0001)
    shorten_switch_interval()
    assert sys.getswitchinterval() == pytest.approx(0.0001)
