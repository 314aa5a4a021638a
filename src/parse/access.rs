//! Access-log parsing (placeholder until the access parser lands).
