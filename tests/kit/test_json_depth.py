"""How deep a JSON body nests, measured without parsing it."""

import json

from services.kit.guards import json_depth


def test_depth_counts_arrays_and_objects_and_not_brackets_in_strings() -> None:
    assert json_depth(b"1") == 0
    assert json_depth(b'"[{"') == 0
    assert json_depth(b'{"a": 1}') == 1
    assert json_depth(b'{"a": [[], [{}]], "b": {}}') == 4
    assert json_depth(json.dumps({"a": '[[[{"\\\\'}).encode()) == 1
    assert json_depth(json.dumps({"[": ["]]]", {"x": "{{"}]}).encode()) == 3


def test_depth_of_a_body_too_deep_for_a_parser_is_measured() -> None:
    assert json_depth(b"[" * 100_000 + b"]" * 100_000) == 100_000
    assert json_depth(b"[" * 1_000) == 1_000  # unbalanced: still measured, and refused as too deep
