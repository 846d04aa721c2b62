-- Group writes enter the change feed (key: the company), so every node's cache of group pages
-- (tollgate_core::groups) learns of them. Like every feed write they take the feed's advisory lock:
-- group writes of the example API are serialised cluster-wide (they are rate-limited per company).
CREATE TRIGGER groups_ai AFTER INSERT ON groups
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('groups', 'company_id');
CREATE TRIGGER groups_au AFTER UPDATE ON groups
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('groups', 'company_id');
CREATE TRIGGER groups_ad AFTER DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('groups', 'company_id');
