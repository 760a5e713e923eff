-- Top-N per project (docs/RANKINGS.md). The snapshot round writes, with
-- each snapshot, the item's touched minutes (counters only, absolute
-- values) here and its open hour in series_hours, so windows sum exactly
-- as of the round. Rows older than three hours are pruned.
CREATE TABLE series_minutes (
    project_id  uuid NOT NULL,
    item_id     text NOT NULL,
    minute      timestamptz NOT NULL,
    vals        bigint[] NOT NULL,
    PRIMARY KEY (project_id, item_id, minute)
);
CREATE INDEX series_minutes_project_minute ON series_minutes (project_id, minute);

-- A window's rows of one project without walking every item of it.
CREATE INDEX series_hours_project_hour ON series_hours (project_id, hour);

-- Per partition, a time T such that every message of the partition stored
-- in the log before T is in the rows above (actors/asof.go). It only rises.
CREATE TABLE partition_asof (
    part   integer PRIMARY KEY,
    as_of  timestamptz NOT NULL
);
