"""The JSON PostgreSQL reads a batch's rows from (``json_to_recordset``) is the same JSON value.

The rows' JSON is written by msgspec (faster than ``json.dumps``); whatever msgspec will not
write goes to ``json.dumps``, so PostgreSQL judges it exactly as before.
"""

from __future__ import annotations

import json

import pytest

from putback_tui.central.engines import _json, _json_rows


@pytest.mark.parametrize(
    "value",
    [
        [{"order_id": "O-1", "rev": 7, "first_action_at": None, "n": -3}],
        ["é", "\u2028", "tab\there", 'quote " and \\ backslash', "\x00", "😀"],
        [{"big": 2**63 - 1, "small": -(2**63)}],
        [],
    ],
)
def test_rows_read_back_as_json_dumps_writes_them(value: object) -> None:
    assert json.loads(_json(value)) == json.loads(json.dumps(value))


def test_what_msgspec_will_not_write_is_written_by_json_dumps() -> None:
    for value in (["lone \ud800 surrogate"], [2**70]):
        assert _json(value) == json.dumps(value)


def test_a_recordset_is_one_object_per_row_named_by_column() -> None:
    text = _json_rows(("order_id text", "rev bigint"), [("O-1", 1), ("O-2", None)])
    assert json.loads(text) == [{"order_id": "O-1", "rev": 1}, {"order_id": "O-2", "rev": None}]
