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
