DROP TABLE mfa_challenges;
DROP TABLE backup_codes;
DROP TABLE user_mfa;
