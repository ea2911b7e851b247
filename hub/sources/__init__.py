"""Amazon Connect source formats: pure decoding, validation and conversion, no I/O.

* :mod:`hub.sources.firehose`: the Firehose HTTP endpoint delivery contract (envelope, gzip, access key,
  exact response bodies, which statuses Firehose retries or drops).
* :mod:`hub.sources.agent_events`: Agent Event Stream records and their conversion to Streams agent data.
* :mod:`hub.sources.contact_records`: contact records (CTRs) and the ``contacts`` row they update.
* :mod:`hub.sources.contact_events`: EventBridge "Amazon Connect Contact Event" and API-destination auth.
* :mod:`hub.sources.voice_id`: the Voice ID result found in contact records.
* :mod:`hub.sources.errors`: the error hierarchy (``status_code`` + caller-safe ``reason``).

Also exported: :func:`secrets_match` (constant-time comparison against one or several secrets) and
:func:`header` (case-insensitive header lookup in any mapping).
"""

from hub.sources._util import header, secrets_match
from hub.sources.errors import (
    InvalidRecordError,
    MalformedRequestError,
    PayloadTooLargeError,
    SourceError,
    SourceUnavailableError,
    UnauthorizedError,
    UnsupportedEncodingError,
    UnsupportedEventError,
)

__all__ = [
    "InvalidRecordError",
    "MalformedRequestError",
    "PayloadTooLargeError",
    "SourceError",
    "SourceUnavailableError",
    "UnauthorizedError",
    "UnsupportedEncodingError",
    "UnsupportedEventError",
    "header",
    "secrets_match",
]
