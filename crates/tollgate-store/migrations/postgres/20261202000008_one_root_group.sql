-- The example API creates a company's root group when it first serves that company (the company
-- itself is created without it): at most one root per company, so that nodes racing to create it
-- agree (INSERT … ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX groups_one_root ON groups(company_id) WHERE parent_id IS NULL;
