"""JSON Pointer (RFC 6901): the kit's one reader and writer of pointers."""

import pytest

from services.kit.jsonpointer import MISSING, escape, join_pointer, pointer_tokens, read_pointer, unescape


def test_a_path_written_as_a_pointer_reads_back_as_the_same_tokens() -> None:
    path: list[str | int] = ["a/b", "c~d", "~1", "", 0]

    pointer = join_pointer(path)

    assert pointer == "/a~1b/c~0d/~01//0"
    assert pointer_tokens(pointer) == ["a/b", "c~d", "~1", "", "0"]
    assert [unescape(escape(token)) for token in path] == ["a/b", "c~d", "~1", "", "0"]


def test_the_whole_document_is_the_empty_pointer_and_text_without_a_slash_is_no_pointer() -> None:
    assert join_pointer([]) == ""
    assert pointer_tokens("") == []
    assert pointer_tokens("/") == [""]
    with pytest.raises(ValueError, match="not a JSON Pointer"):
        pointer_tokens("a/b")


def test_read_pointer_gives_the_default_where_the_document_has_no_value() -> None:
    document = {"a": [{"b": None}], "": 1}

    assert read_pointer(document, "/a/0/b") is None
    assert read_pointer(document, "/") == 1
    assert read_pointer(document, "/a/1") is MISSING
    assert read_pointer(document, "/a/01") is MISSING  # no leading zeros in an index
    assert read_pointer(document, "/a/-") is MISSING
    assert read_pointer(document, "/a/0/b/c", None) is None
    assert read_pointer(document, "/x", "none here") == "none here"
