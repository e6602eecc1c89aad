//! Accounts, passwords, MFA, tokens, SMART scopes, break-the-glass.
#![forbid(unsafe_code)]
