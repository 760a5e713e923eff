-- Each instance's item set (transport/httpapi/itemset.go) reads the items
-- created in the last few seconds, once a second. On 200k items EXPLAIN
-- ANALYZE measured such a read at 0.09 ms with this index and 39 ms (a
-- parallel sequential scan) without. Migrations run in a transaction, where
-- CONCURRENTLY is not allowed: the build holds off item creation while it
-- runs, once (0.1-0.25 s for those 200k rows).
CREATE INDEX items_created_at ON items (created_at);
