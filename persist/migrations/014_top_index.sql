-- Each instance's top-N index (persist/topindex.go) keeps a project's window
-- of series rows in memory and reads, once a second, only the rows written
-- since its last read. A row's xid is the transaction that last wrote it; a
-- read takes its snapshot's xmin as the mark for the next one, so a
-- transaction still open during a read is read again next time, never
-- missed (a write time could not promise that: now() is the transaction's
-- start, not its commit). Rows written before this migration have no xid:
-- an index loads every row of its window when it starts, so it never needs
-- them by xid. Adding a column without a default does not rewrite the table.
ALTER TABLE series_hours ADD COLUMN xid xid8;
ALTER TABLE series_minutes ADD COLUMN xid xid8;
CREATE INDEX series_hours_project_xid ON series_hours (project_id, xid);
CREATE INDEX series_minutes_project_xid ON series_minutes (project_id, xid);
