//! Rotation cases against a live `--for` run (filled in next).
