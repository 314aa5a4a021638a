//! Which rows are already blocked: the firewalls and ban engines are read
//! every `[refresh] blocked_interval` in a child process ([`BlockReader`]);
//! when a round's answer differs from the last, the index is rebuilt and
//! every row looked up again. A block run from the dashboard marks its rows at once; the
//! next round that started after it confirms (or drops) the mark.

use std::io;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use super::Core;
use crate::actions::block::{BlockRecord, Tool, Tools};
use crate::enrich::blocked::{install, BlockIndex};
use crate::parse::blocklist::{BlockedNet, Blocker};
use crate::source::blocklists::BlockReader;

pub(super) struct Blocked {
    reader: BlockReader,
    every: Duration,
    due: Instant,
    /// What the last round found.
    listed: Vec<BlockedNet>,
    /// Blocks run here since, each with the round count when it ran: kept
    /// until a round that started after it ends.
    pending: Vec<(BlockedNet, u64)>,
}

impl Blocked {
    /// Asks the tools found on PATH every `every` (zero: none, never);
    /// `nft_table` is the table block assist fills (`[actions] nft_table`).
    pub(super) fn new(every: Duration, nft_table: &str) -> Blocked {
        let tools = if every.is_zero() {
            Tools::default()
        } else {
            Tools::detect()
        };
        Blocked {
            reader: BlockReader::new(&tools, nft_table),
            every,
            due: Instant::now(),
            listed: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Register the reader's pipes under `token`; live, start the first
    /// round. `--once` asks after its socket dump instead
    /// ([`read_now`](Self::read_now)), so its one dump never holds the
    /// tools' own sockets (cscli's to its local API).
    pub(super) fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        core: &mut Core,
        live: bool,
    ) -> io::Result<()> {
        registry.register(&mut self.reader, token, Interest::READABLE)?;
        if live {
            self.poll(core, Instant::now());
        }
        Ok(())
    }

    /// `--once`: one whole round, waited for.
    pub(super) fn read_now(&mut self, core: &mut Core) {
        self.reader.run_now();
        self.take_round(core);
    }

    /// A pipe is readable.
    pub(super) fn on_ready(&mut self, core: &mut Core) {
        self.reader.on_readable();
        self.take_round(core);
    }

    /// A tick or SIGCHLD: reap, time out, start a round when due.
    pub(super) fn poll(&mut self, core: &mut Core, now: Instant) {
        self.reader.on_tick(now);
        self.take_round(core);
        if self.reader.is_idle() && now >= self.due {
            self.reader.start_round(now);
            self.due = now + self.every;
        }
    }

    /// A block command ran: when it succeeded, its rows are marked now.
    pub(super) fn note_block(&mut self, core: &mut Core, record: &BlockRecord) {
        if !record.succeeded() {
            return;
        }
        let by = blocker_of(record.tool, record.target.addr().is_ipv6());
        let net = BlockedNet {
            net: record.target,
            by,
            since: Some(record.time),
        };
        self.pending.push((net, self.reader.rounds()));
        self.rebuild(core);
    }

    fn take_round(&mut self, core: &mut Core) {
        let Some(listed) = self.reader.take_round() else {
            return;
        };
        // This round started at count `rounds`: blocks run before it are in it.
        let rounds = self.reader.rounds();
        let before = self.pending.len();
        self.pending.retain(|(_, at)| *at >= rounds);
        if listed != self.listed || self.pending.len() != before {
            self.listed = listed;
            self.rebuild(core);
        }
    }

    /// A new index, and every row looked up in it.
    fn rebuild(&mut self, core: &mut Core) {
        let mut all = self.listed.clone();
        all.extend(self.pending.iter().map(|(net, _)| *net));
        core.blocked = BlockIndex::new(&all);
        install(&mut core.table, &core.blocked);
        core.changes += 1;
    }
}

/// Who blocks after a block run with `tool`.
fn blocker_of(tool: Tool, v6: bool) -> Blocker {
    match tool {
        Tool::Ufw => Blocker::Ufw,
        Tool::Nft => Blocker::Nft,
        Tool::Iptables | Tool::Ip6tables if v6 => Blocker::Ip6tables,
        Tool::Iptables | Tool::Ip6tables => Blocker::Iptables,
        Tool::Fail2ban => Blocker::Fail2ban,
        Tool::Cscli => Blocker::Crowdsec,
    }
}
