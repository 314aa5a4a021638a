//! History figures held for the rows a view shows, so that drawing a frame
//! never asks SQLite: a row's figures are read once, then again only after
//! a history snapshot has been written (the only time the file changes
//! under us, apart from other instances, which the snapshot also picks up).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::store::{History, HistoryFigures};

/// Figures kept are dropped past this many addresses (each is ~64 bytes):
/// a screenful of rows and a drill-down need far fewer.
const MAX_KEPT: usize = 4096;

/// Lifetime figures by address, valid for one history generation.
#[derive(Debug, Default)]
pub(crate) struct RowHistory {
    generation: u64,
    figures: HashMap<IpAddr, Option<HistoryFigures>>,
}

impl RowHistory {
    /// The figures of `ip` (`None`: history off, or no record), read from
    /// `history` only when not held for its current generation. A frame
    /// that shows the same rows as the last one makes no query and no
    /// allocation.
    pub(crate) fn get(&mut self, history: Option<&History>, ip: IpAddr) -> Option<HistoryFigures> {
        let history = history?;
        if history.generation() != self.generation {
            self.figures.clear();
            self.generation = history.generation();
        }
        let ip = ip.to_canonical();
        if let Some(&known) = self.figures.get(&ip) {
            return known;
        }
        if self.figures.len() >= MAX_KEPT {
            self.figures.clear();
        }
        // A failed read shows as no record; the next generation tries again.
        let found = history.figures(ip).ok().flatten();
        self.figures.insert(ip, found);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SessionRow;

    const T0: i64 = 1_700_000_000;

    fn session_row(ip: IpAddr, requests: u64) -> SessionRow {
        SessionRow {
            ip,
            first_seen: T0,
            last_seen: T0,
            requests,
            bytes: 0,
            auth_failures: 0,
            suspicious: false,
            country: None,
            org: None,
            last_paths: Vec::new(),
        }
    }

    /// Figures are held until this instance writes a snapshot: another
    /// instance's writes to the file show only then, and a held `None`
    /// (no record) is not asked again either.
    #[test]
    fn figures_are_read_again_only_after_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let mut ours = History::open(&path, T0).unwrap();
        ours.snapshot(std::iter::once(session_row(ip, 10))).unwrap();
        let mut held = RowHistory::default();
        assert_eq!(held.get(Some(&ours), ip).map(|h| h.requests), Some(10));
        assert_eq!(held.get(Some(&ours), other), None);

        let mut theirs = History::open(&path, T0 + 1).unwrap();
        let rows = [session_row(ip, 5), session_row(other, 7)];
        theirs.snapshot(rows.into_iter()).unwrap();
        assert_eq!(held.get(Some(&ours), ip).map(|h| h.requests), Some(10));
        assert_eq!(held.get(Some(&ours), other), None);

        ours.snapshot(std::iter::once(session_row(ip, 10))).unwrap();
        assert_eq!(held.get(Some(&ours), ip).map(|h| h.requests), Some(15));
        assert_eq!(held.get(Some(&ours), other).map(|h| h.requests), Some(7));
        assert_eq!(held.get(None, ip), None, "history off");
    }

    /// Figures held for one file are not taken for another's.
    #[test]
    fn another_history_is_read_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = History::open(&dir.path().join("a.db"), T0).unwrap();
        let mut b = History::open(&dir.path().join("b.db"), T0).unwrap();
        b.snapshot(std::iter::once(session_row(ip, 3))).unwrap();
        let mut held = RowHistory::default();
        assert_eq!(held.get(Some(&a), ip), None);
        assert_eq!(held.get(Some(&b), ip).map(|h| h.requests), Some(3));
    }
}
