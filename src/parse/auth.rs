//! sshd log parsing (placeholder until the auth parser lands).
