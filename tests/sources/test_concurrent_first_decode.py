"""Concurrent first decodes of the wire types must not crash the interpreter.

msgspec builds a struct type's decoding information on its first decode; two threads doing that at
once crashed ``connect-hub serve`` on its first two concurrent Firehose requests (a segmentation fault
in ``json_decode_struct_map_inner``). The hub builds it at import (:mod:`hub._structs`). Each run is a
fresh interpreter whose first decodes of these types happen in four threads released together, with a
tiny thread switch interval; without the preparation about two runs in three crashed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from .builders import fixture_bytes

RACE = textwrap.dedent(
    """
    import json, os, sys, threading
    sys.setswitchinterval(1e-6)
    import msgspec
    from hub.sources.agent_events import AgentEvent
    from hub.sources.contact_records import ContactTraceRecord
    payloads = json.loads(os.environ["RACE_PAYLOADS"])
    kinds = {"aes": AgentEvent, "ctr": ContactTraceRecord}
    barrier = threading.Barrier(2 * len(payloads))

    def first_decode(kind, data):
        barrier.wait()
        msgspec.json.decode(data, type=kind, strict=False)

    threads = [
        threading.Thread(target=first_decode, args=(kinds[name], data))
        for name, data in payloads.items()
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("ok")
    """
)


def test_first_decodes_in_several_threads_at_once_do_not_crash() -> None:
    payloads = {  # an AES record with a contact (the deepest struct tree) and a contact record
        "aes": fixture_bytes("aes_state_change_connected.json").decode(),
        "ctr": fixture_bytes("ctr_example.json").decode(),
    }
    env = {**os.environ, "RACE_PAYLOADS": json.dumps(payloads)}
    for run in range(10):
        done = subprocess.run(
            [sys.executable, "-c", RACE], check=False, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and done.stdout.strip() == "ok", (
            f"run {run}: exit {done.returncode} (a negative code is a signal): {done.stderr[-2000:]}"
        )
