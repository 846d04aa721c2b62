-- One schema for both backends: where a prune of the whole feed stopped moves from a `settings` row
-- to the `change_log_pruned` table PostgreSQL has always had.
CREATE TABLE change_log_pruned (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    through  INTEGER NOT NULL
);
INSERT INTO change_log_pruned(only_row, through)
    SELECT TRUE, CAST(value AS INTEGER) FROM settings WHERE name = 'change_log_pruned_through';
DELETE FROM settings WHERE name = 'change_log_pruned_through';
