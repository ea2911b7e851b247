"""Decoding information for msgspec structs, built at import time.

msgspec builds a :class:`msgspec.Struct` type's decoding information lazily, on the first decode or
conversion into it, and caches it on the class. Two threads doing that first decode at once can crash
the interpreter: one reads the other's half-built information (seen with msgspec 0.22 as a
segmentation fault in ``json_decode_struct_map_inner`` while another thread was in
``msgspec._utils.get_class_annotations``, on the hub's first two concurrent Firehose requests).
Module imports run one at a time under the import lock, so every module that defines structs which
are decoded at run time builds their information when it is imported, with :func:`prepare_structs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = ["prepare_structs"]


def prepare_structs(namespace: Mapping[str, Any]) -> None:
    """Build the decoding information of every struct defined in a module (call with ``globals()``)."""
    module = namespace["__name__"]
    for value in list(namespace.values()):
        if isinstance(value, type) and issubclass(value, msgspec.Struct) and value.__module__ == module:
            msgspec.json.Decoder(value)  # builds and caches the information of the type and its fields
