-- A company's override of the token issuance quota (new tokens per credential per hour): NULL
-- follows the server's `[rate_limits] tokens_per_credential_per_hour`, 0 means no quota.
ALTER TABLE companies ADD COLUMN token_quota_per_hour BIGINT;
