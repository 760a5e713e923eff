-- The partition of each snapshot, as SaveSnapshots was told: the owner of a
-- partition loads the keys of its snapshots at claim time, so that an item
-- without one activates without a snapshot load (actors/known.go). Rows
-- written before this column existed keep NULL and are reported for every
-- partition (the registry filters them) until their next write.
ALTER TABLE snapshots ADD COLUMN part integer;
CREATE INDEX snapshots_part ON snapshots (part);
