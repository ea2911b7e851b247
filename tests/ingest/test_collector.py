"""The interpreter settings of the ingest app: the collector pause shared by concurrent requests, the
frozen start-up heap and the short thread switch interval while the app serves."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub._interpreter import SWITCH_INTERVAL_S, tuned_for_ingest
from hub.db import create_engine_from_url
from hub.ingest import HEALTH_PATH, DatabaseSink, _http, create_app
from hub.ingest._http import collector_paused

from .conftest import make_settings


@pytest.fixture(autouse=True)
def _collector_enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_nested_pauses_reenable_once_the_outer_one_ends() -> None:
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_requests_keep_it_paused_until_the_last_ends() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with collector_paused():
            second_in.set()
            first_out.wait(10)
            seen.append(gc.isenabled())  # the first request ended: still paused for this one

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_a_long_overlap_collects_once(monkeypatch: pytest.MonkeyPatch) -> None:
    collections: list[int] = []
    monkeypatch.setattr(_http, "MAX_PAUSE_SECONDS", 0.0)
    gc.callbacks.append(lambda phase, info: collections.append(info["generation"]) if phase == "start" else None)
    try:
        with collector_paused():
            with collector_paused():
                pass
            assert 2 in collections  # the inner call ended after the limit: a full pass ran
            assert not gc.isenabled()
    finally:
        gc.callbacks.pop()
    assert gc.isenabled()


def test_a_collector_disabled_elsewhere_stays_disabled() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_the_serving_app_freezes_the_start_up_heap_and_shortens_the_switch_interval() -> None:
    sink = DatabaseSink(create_engine_from_url("sqlite://"))
    app = create_app(make_settings(), sink)
    interval = sys.getswitchinterval()
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert client.get(HEALTH_PATH).status_code == 200
        assert gc.get_freeze_count() > 0
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    assert gc.get_freeze_count() == 0
    assert sys.getswitchinterval() == interval


def test_a_shorter_switch_interval_set_by_the_deployment_is_kept() -> None:
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S / 5)
    try:
        with tuned_for_ingest():
            assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S / 5, abs=2e-6)
    finally:
        sys.setswitchinterval(before)
