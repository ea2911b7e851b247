"""The ``contacts.state`` semantics across sources, whatever the arrival order (SQLite and PostgreSQL).

A contact record means the contact is finished (``ended``); EventBridge contact events map to states
(``hub.ingest._rows.CONTACT_EVENT_STATES``); AES contact states are the Streams ones; ``ended`` is
terminal: no later-arriving, duplicate or out-of-order input brings a finished contact back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from hub.db._models import CONTACTS
from hub.ingest import AGENT_EVENTS_PATH, CONTACT_EVENTS_PATH, CONTACT_RECORDS_PATH

from .payloads import API_KEY, Json, aes_record, contact_event, contact_record, firehose_body, firehose_request
from .payloads import voice_contact as contact

CID = "c-1"
BASE = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    """``seconds`` after the payloads' epoch (2026-03-02T09:00:00Z)."""
    return BASE + dt.timedelta(seconds=seconds)


def send_aes(client: TestClient, *records: Json) -> None:
    """One Firehose delivery of AES records."""
    content, headers = firehose_request(firehose_body(list(records)))
    response = client.post(AGENT_EVENTS_PATH, content=content, headers=headers)
    assert response.status_code == 200, response.text


def send_ctr(client: TestClient, record: Json, request_id: str | None = None) -> None:
    """One Firehose delivery of a contact record."""
    content, headers = firehose_request(firehose_body([record], request_id=request_id))
    response = client.post(CONTACT_RECORDS_PATH, content=content, headers=headers)
    assert response.status_code == 200, response.text


def send_event(client: TestClient, event: Json) -> None:
    """One EventBridge contact event."""
    response = client.post(CONTACT_EVENTS_PATH, json=event, headers={"X-Api-Key": API_KEY})
    assert response.status_code == 200, response.text


def the_contact(engine: Engine, contact_id: str = CID) -> dict[str, Any]:
    """The one ``contacts`` row of ``contact_id``, read through the typed table (aware UTC timestamps)."""
    with engine.connect() as connection:
        (row,) = connection.execute(sa.select(CONTACTS).where(CONTACTS.c.contact_id == contact_id))
    return dict(row._mapping)


def aware(value: Any) -> dt.datetime:
    """A stored timestamp (asserted to be an aware datetime)."""
    assert isinstance(value, dt.datetime)
    assert value.tzinfo is not None
    return value


def ctr(last_update: float = 600) -> Json:
    """The contact record of ``CID`` (disconnected at 370 s)."""
    return contact_record(contact_id=CID, last_update=last_update)


def aes(seconds: float, state: str, **options: Any) -> Json:
    """An AES record of agent 1 with ``CID`` in AES ``state`` since ``seconds``."""
    return aes_record(seconds, contacts=[contact(CID, state, seconds)], **options)


def assert_finished(engine: Engine) -> None:
    """The row holds the contact record's final state and data."""
    row = the_contact(engine)
    assert row["state"] == "ended"
    assert aware(row["disconnected_at"]) == at(370)
    assert row["disconnect_reason"] == "CUSTOMER_DISCONNECT"
    assert row["hold_duration_s"] == 45


def test_contact_record_ends_the_contact(client: TestClient, engine: Engine) -> None:
    send_ctr(client, ctr())
    row = the_contact(engine)
    assert row["state"] == "ended"
    assert aware(row["state_at"]) == at(370)  # DisconnectTimestamp
    assert_finished(engine)


def test_live_feed_then_contact_record(client: TestClient, engine: Engine) -> None:
    send_aes(client, aes(20, "CONNECTING"))
    send_aes(client, aes(42, "CONNECTED"))
    assert the_contact(engine)["state"] == "connected"
    send_ctr(client, ctr())
    assert_finished(engine)
    assert aware(the_contact(engine)["connected_to_agent_at"]) == at(42)


def test_contact_record_then_late_live_feed(client: TestClient, engine: Engine) -> None:
    send_ctr(client, ctr())
    # Firehose streams are independent: the agent's records arrive after the contact record
    send_aes(client, aes(20, "CONNECTING"), aes(42, "CONNECTED"))
    assert_finished(engine)


def test_newer_stamped_live_record_never_reopens_an_ended_contact(client: TestClient, engine: Engine) -> None:
    send_ctr(client, ctr(last_update=400))
    # stamped after the contact record (clock skew, or a record from before the disconnect delayed)
    send_aes(client, aes(500, "CONNECTED_ONHOLD"))
    row = the_contact(engine)
    assert row["state"] == "ended"
    assert aware(row["state_at"]) == at(370)
    assert aware(row["disconnected_at"]) == at(370)


def test_contact_record_older_than_the_live_feed_still_lands(client: TestClient, engine: Engine) -> None:
    send_aes(client, aes(380, "ENDED"))  # after-contact work, stamped after the record's LastUpdateTimestamp
    send_ctr(client, ctr(last_update=375))
    assert_finished(engine)
    assert aware(the_contact(engine)["state_at"]) == at(380)  # the first time it was seen ended


def test_duplicates_change_nothing(client: TestClient, engine: Engine) -> None:
    connected = aes(42, "CONNECTED", event_id="e-connected")
    send_aes(client, connected)
    send_ctr(client, ctr(), request_id="r-1")
    before = the_contact(engine)
    send_ctr(client, ctr(), request_id="r-1")  # the same delivery again
    send_ctr(client, ctr())  # the same record in another delivery
    send_aes(client, connected)  # the same AES record again
    after = the_contact(engine)
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }
    assert_finished(engine)


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (2, 3, 0, 1), (1, 3, 0, 2)])
def test_out_of_order_across_sources(client: TestClient, engine: Engine, order: tuple[int, ...]) -> None:
    inputs = [
        lambda: send_aes(client, aes(20, "CONNECTING")),
        lambda: send_event(client, contact_event(event_type="CONNECTED_TO_AGENT", contact_id=CID)),
        lambda: send_aes(client, aes(42, "CONNECTED")),
        lambda: send_ctr(client, ctr()),
    ]
    for index in order:
        inputs[index]()
    assert_finished(engine)


def test_contact_record_update_keeps_the_contact_ended(client: TestClient, engine: Engine) -> None:
    send_ctr(client, ctr(last_update=600))
    send_ctr(client, ctr(last_update=900) | {"Attributes": {"crmCaseId": "CASE-2002"}})
    assert_finished(engine)
    assert the_contact(engine)["attributes"] == {"crmCaseId": "CASE-2002"}


@pytest.mark.parametrize(
    ("event_type", "state"),
    [
        ("INITIATED", "init"),
        ("CONNECTED_TO_SYSTEM", "init"),
        ("QUEUED", "init"),
        ("CONNECTED_TO_AGENT", "connected"),
        ("DISCONNECTED", "ended"),
        ("COMPLETED", "ended"),
        ("CONTACT_DATA_UPDATED", None),
    ],
)
def test_contact_event_states(client: TestClient, engine: Engine, event_type: str, state: str | None) -> None:
    send_event(client, contact_event(event_type=event_type, contact_id=CID))
    assert the_contact(engine)["state"] == state


def test_contact_event_after_disconnect_keeps_the_contact_ended(client: TestClient, engine: Engine) -> None:
    disconnected = contact_event(event_type="DISCONNECTED", contact_id=CID)
    disconnected["detail"]["disconnectTimestamp"] = "2026-03-02T09:15:40.000Z"
    send_event(client, disconnected)
    late = contact_event(event_type="CONNECTED_TO_AGENT", contact_id=CID)
    late["time"] = "2026-03-02T09:16:00Z"  # newer envelope time, yet the contact is over
    send_event(client, late)
    row = the_contact(engine)
    assert row["state"] == "ended"
    assert aware(row["state_at"]) == dt.datetime(2026, 3, 2, 9, 15, 40, tzinfo=dt.UTC)


def test_aes_on_hold_is_connected(client: TestClient, engine: Engine) -> None:
    send_aes(client, aes(50, "CONNECTED_ONHOLD"))
    assert the_contact(engine)["state"] == "connected"


def test_ended_stays_within_one_batch(client: TestClient, engine: Engine) -> None:
    # one delivery holding the ENDED record and a later one that (wrongly) still lists the contact connected
    send_aes(client, aes(60, "ENDED"), aes(70, "CONNECTED"))
    row = the_contact(engine)
    assert row["state"] == "ended"
    assert aware(row["state_at"]) == at(60)
