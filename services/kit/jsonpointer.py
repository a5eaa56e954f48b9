"""JSON Pointer (RFC 6901): a pointer's reference tokens, a pointer written from a path, and the value it names.

A token is escaped `~` to `~0` first and `/` to `~1` second, and unescaped in the
opposite order, so that `~01` reads back as the token `~1` and not as `/`.
"""

import re
from collections.abc import Iterable
from typing import Any, Final


class _Missing:
    """What `read_pointer` returns where the document has no value (a stored `null` is a value)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

# An array index is a decimal number without leading zeros (RFC 6901, section 4).
_ARRAY_INDEX: Final = re.compile(r"0|[1-9][0-9]*")


def escape(token: str | int) -> str:
    """One reference token as it is written in a pointer."""
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """One reference token as written in a pointer, read back."""
    return token.replace("~1", "/").replace("~0", "~")


def join_pointer(path: Iterable[str | int]) -> str:
    """The pointer of a path of object member names and array indices; `""` for the whole document."""
    return "".join("/" + escape(part) for part in path)


def pointer_tokens(pointer: str) -> list[str]:
    """The reference tokens of a pointer, unescaped; `ValueError` for text that is not a pointer."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON Pointer: {pointer!r}")
    return [unescape(token) for token in pointer[1:].split("/")]


def read_pointer(document: Any, pointer: str, default: Any = MISSING) -> Any:
    """The value at `pointer` in `document`, or `default` (`MISSING` unless given) where there is none."""
    value = document
    for token in pointer_tokens(pointer):
        if isinstance(value, dict):
            if token not in value:
                return default
            value = value[token]
        elif isinstance(value, list):
            if not _ARRAY_INDEX.fullmatch(token) or int(token) >= len(value):
                return default
            value = value[int(token)]
        else:
            return default
    return value
