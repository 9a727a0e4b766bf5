"""Count the pages a put-back commit writes, by the table or index each belongs to.

Every page a transaction changes is one frame of the write-ahead log, written (two ``pwrite``
calls: its header and the page) and synced at the commit; the commit's cost grows with them.
On a fresh copy of the loaded ledger, the station opens n exception orders and puts one unit
of each back, as ``bench-ledger`` does, with the automatic checkpoint off so that the log keeps
every frame; then the log's frame headers are read (page number, commit marker) and each page is
named by SQLite's ``dbstat`` (a leaf or interior page of which b-tree). A raw single-row insert
into a one-page table writes one frame.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import sqlite3
import struct
import tempfile
from pathlib import Path

from bench_ledger import ROOT, ensure_ledger, picked_lines

from putback_tui.config import Settings
from putback_tui.ledger import Ledger
from putback_tui.station import Station

WAL_HEADER = 32
FRAME_HEADER = 24


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=400, help="put-backs (default 400)")
    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT / ".data" / "quick",
        help="data set directory (default the quick set)",
    )
    args = parser.parse_args()
    source = ensure_ledger(args.data, args.data.name == "quick")
    with tempfile.TemporaryDirectory(prefix="ledger-frames-") as tmp:
        path = Path(tmp) / "putback.sqlite3"
        shutil.copyfile(source, path)
        ledger = Ledger(path)
        station = Station(ledger, Settings())
        station.sign_in("SV-0001")
        with ledger.read() as tx:
            page_size = int(tx.conn.execute("PRAGMA page_size").fetchone()[0])
        ledger._conn.execute("PRAGMA wal_autocheckpoint=0")
        picked = picked_lines(ledger, args.n)
        for order_id, *_ in picked:
            station.open_order(order_id)
        # The log from here on holds the put-backs alone.
        ledger._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for order_id, line_no, sku, location, _ in picked:
            station.put_back(order_id, line_no, sku, location)
        wal = Path(f"{path}-wal").read_bytes()
        frame = FRAME_HEADER + page_size
        pages = []
        commits = 0
        for start in range(WAL_HEADER, len(wal) - frame + 1, frame):
            page, commit = struct.unpack(">II", wal[start : start + 8])
            pages.append(page)
            commits += commit != 0
        conn = sqlite3.connect(path)
        try:
            names = dict(conn.execute("SELECT pageno, name || ' (' || pagetype || ')' FROM dbstat"))
        except sqlite3.OperationalError:  # a SQLite built without dbstat: page numbers only
            names = {}
        conn.close()
        ledger.close()
    # Page 1 is sqlite_schema's root, but a put-back writes it for the file header on it: the
    # database's size in pages, which a split (a new page) moves.
    names[1] = "page 1 (the file header: the size in pages, moved by a split)"
    by_tree = collections.Counter(names.get(p, f"page {p}") for p in pages)
    print(
        f"{len(picked)} put-backs, {commits} commits, {len(pages)} WAL frames of "
        f"{page_size + FRAME_HEADER} bytes: {len(pages) / commits:.2f} frames "
        f"({len(pages) / commits * frame / 1024:.1f} KiB) a put-back"
    )
    for name, count in by_tree.most_common():
        print(f"  {count / commits:6.3f}  {name}")


if __name__ == "__main__":
    main()
