"""Models and entries: projecting line changes, aware timestamps, entry IDs."""

from __future__ import annotations

import os
import uuid
from datetime import datetime

import pytest
from pydantic import ValidationError

from putback_tui.domain.entries import new_entry_id
from putback_tui.domain.models import (
    LineChange,
    Order,
    OrderStatus,
    apply_line_changes,
    replaced,
)


def test_apply_line_changes_adds_counters_and_leaves_the_original(orders):
    order = orders["D-1003"]
    after = apply_line_changes(
        order,
        [
            LineChange(order_id="D-1003", line_no=1, released=1),
            LineChange(order_id="D-1003", line_no=2, released=1),
            LineChange(order_id="D-1003", line_no=1, put_back=2),
        ],
    )
    assert [(ln.released, ln.put_back) for ln in after.lines] == [(1, 2), (1, 0)]
    assert after.reconciled
    assert [(ln.released, ln.put_back) for ln in order.lines] == [(0, 0), (0, 0)]
    assert not order.reconciled


def test_replaced_is_model_copy_with_an_update(orders):
    """The hot path's copy gives what pydantic's own gives, and stays frozen and independent."""
    order = orders["D-1003"]
    update = {"status": OrderStatus.DELETED, "has_label": True}
    fast = replaced(order, **update)
    slow = order.model_copy(update=update)
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_fields_set == slow.model_fields_set
    assert (order.status, order.has_label) == (OrderStatus.FAILED, False)  # untouched
    with pytest.raises(ValidationError):
        fast.status = OrderStatus.OPEN  # type: ignore[misc]  # frozen, as the original



def test_apply_line_changes_undo_goes_back(orders):
    order = orders["D-1002"]
    done = apply_line_changes(order, [LineChange(order_id="D-1002", line_no=2, put_back=2)])
    undone = apply_line_changes(done, [LineChange(order_id="D-1002", line_no=2, put_back=-2)])
    assert undone == order


@pytest.mark.parametrize(
    ("change", "error"),
    [
        pytest.param(LineChange(order_id="D-1001", line_no=1, put_back=1), ValueError, id="order"),
        pytest.param(LineChange(order_id="D-1002", line_no=9, put_back=1), KeyError, id="line"),
    ],
)
def test_apply_line_changes_refuses_changes_that_do_not_fit(orders, change, error):
    with pytest.raises(error):
        apply_line_changes(orders["D-1002"], [change])


def test_naive_timestamps_are_refused(orders):
    with pytest.raises(ValidationError, match="timezone"):
        Order(
            order_id="D-9",
            facility="STORE-01",
            status=OrderStatus.OPEN,
            lines=(),
            status_changed_at=datetime(2026, 1, 1, 12, 0),  # noqa: DTZ001 - the point of the test
        )


def test_order_status_kinds():
    exceptions = {s for s in OrderStatus if s.is_exception}
    live = {s for s in OrderStatus if s.is_live}
    assert exceptions == {"cancelled", "deleted", "failed", "rejected"}
    assert live == {"open", "in_progress"}
    assert OrderStatus.SHIPPED not in exceptions | live


def test_entry_ids_are_uuid7_unique_and_in_the_order_made():
    ids = [new_entry_id(now_ms=1_700_000_000_000) for _ in range(5000)]
    ids.append(new_entry_id(now_ms=1_600_000_000_000))  # a clock stepping back
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert {uuid.UUID(i).version for i in ids} == {7}


def test_a_forked_child_makes_other_random_bits_than_its_parent():
    """The random bits are read from the system ahead, many IDs' worth: a forked child must not
    make the IDs its parent makes next (both would have the same bytes left).
    """
    new_entry_id()  # the parent's bytes read, most of them still ahead
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next three IDs' random bits, to the parent
        os.close(read)
        os.write(write, " ".join(new_entry_id()[19:] for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [new_entry_id()[19:] for _ in range(3)]
    assert len(child) == 3
    assert not set(child) & set(parent)
