"""The control envelope written straight to bytes (realtime/wire.py) is the same
envelope, byte for byte, as the general one every other event gets."""

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from realtime.wire import control_envelope, dumps, envelope, format_timestamp, new_event_id, timestamp_now


@pytest.mark.parametrize(("call_id", "data"), [
    (None, {"client_id": "a1", "stream": "workspace", "resumed": False, "keepalive_seconds": 15}),
    ("call_7", {"server_time": "2026-11-22T18:00:00.000Z"}),
    ('odd "call"\\é\n', {"text": 'quote " and ünïcode ☎', "nested": {"list": [1, 2.5, None, True]}}),
])
def test_a_control_envelope_is_the_bytes_of_the_general_envelope(call_id, data):
    workspace_id = str(uuid.uuid4())

    written = control_envelope("connected", data, workspace_id=workspace_id, call_id=call_id)

    parsed = json.loads(written)
    general = dumps(envelope(event_id=parsed["event_id"], type="connected", workspace_id=workspace_id,
                             call_id=call_id, timestamp=datetime.fromisoformat(parsed["timestamp"]),
                             data=data))
    assert written == general


def test_event_ids_are_distinct_version_4_uuids_in_canonical_form():
    ids = [new_event_id() for _ in range(2000)]

    parsed = [uuid.UUID(text) for text in ids]
    assert len(set(ids)) == len(ids)
    assert all(value.version == 4 and value.variant == uuid.RFC_4122 for value in parsed)
    assert all(str(value) == text for value, text in zip(parsed, ids, strict=True))


def test_the_timestamp_of_now_is_the_current_millisecond_in_the_envelope_format():
    before = format_timestamp(datetime.now(UTC))
    stamp = timestamp_now()
    time.sleep(0.002)
    later = timestamp_now()
    after = format_timestamp(datetime.now(UTC))

    assert before <= stamp < later <= after
    assert datetime.fromisoformat(stamp).tzinfo is not None
    assert len(stamp) == len("2026-11-22T18:00:00.000Z") and stamp.endswith("Z")
