-- Hourly figures of an item: the absolute value of each metric of its family
-- (actors/series, counters then distinct metrics, in the family's order) for
-- one UTC hour. Written by the partition owner's snapshot round; a rewrite
-- after a replay writes the same values.
CREATE TABLE series_hours (
    project_id  uuid NOT NULL,
    item_id     text NOT NULL,
    hour        timestamptz NOT NULL,
    vals        bigint[] NOT NULL,
    PRIMARY KEY (project_id, item_id, hour)
);
-- Retention deletes by age across all items.
CREATE INDEX series_hours_hour ON series_hours (hour);

-- A random salt per project and UTC day for anonymous visitor ids
-- (uniques.VisitorID). Rows older than yesterday are deleted.
CREATE TABLE visitor_salts (
    project_id  uuid NOT NULL,
    day         date NOT NULL,
    salt        bytea NOT NULL CHECK (length(salt) = 32),
    PRIMARY KEY (project_id, day)
);

-- Distinct metrics of an item per UTC day (viewers, users, sessions: a key
-- seen in two hours is one key, so days cannot be summed from hours).
-- vals holds the family's distinct metrics only, in order.
CREATE TABLE series_days (
    project_id  uuid NOT NULL,
    item_id     text NOT NULL,
    day         timestamptz NOT NULL,
    vals        bigint[] NOT NULL,
    PRIMARY KEY (project_id, item_id, day)
);
CREATE INDEX series_days_day ON series_days (day);
