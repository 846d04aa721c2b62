-- Group writes enter the change feed (key: the company), so every node's cache of group pages
-- (tollgate_core::groups) learns of them.
CREATE TRIGGER groups_ai AFTER INSERT ON groups BEGIN
    INSERT INTO change_log(kind, key) VALUES ('groups', NEW.company_id); END;
CREATE TRIGGER groups_au AFTER UPDATE ON groups BEGIN
    INSERT INTO change_log(kind, key) VALUES ('groups', NEW.company_id); END;
CREATE TRIGGER groups_ad AFTER DELETE ON groups BEGIN
    INSERT INTO change_log(kind, key) VALUES ('groups', OLD.company_id); END;
