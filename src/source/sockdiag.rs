//! The kernel's TCP socket table through netlink `NETLINK_SOCK_DIAG`.
//!
//! One non-blocking netlink socket, registered in the mio loop. Each tick asks
//! for one dump of every TCP socket in every state; the replies are parsed as
//! they arrive, from one reused buffer, without allocating.
//!
//! One request, both families: each dump walks the kernel's whole established
//! hash (every bucket, empty or not: 262 144 of them on a 24 GB host, about
//! 1.3 ms of kernel time), whatever the family asked for. The legacy request
//! `TCPDIAG_GETSOCK` with the old `struct inet_diag_req` is served with family
//! `AF_UNSPEC` (`inet_diag_dump_compat`), so one walk returns IPv4 and IPv6
//! sockets: half the kernel time of asking `SOCK_DIAG_BY_FAMILY` for each
//! family. A kernel that refuses it (built without the compat handler, or a
//! future one that drops it) answers with an error; the socket then falls back
//! to `SOCK_DIAG_BY_FAMILY`, IPv4 then IPv6, for the rest of its life.
//!
//! Why one family after the other in that fallback: a netlink socket runs at
//! most one dump at a time, and a dump request sent while another is still
//! running is refused with `EBUSY` (`netlink_dump_start`). So the IPv6 request
//! goes out when the IPv4 dump's `NLMSG_DONE` arrives.
//!
//! Ticks that cannot have changed anything skip the dump: see
//! [`SockDiag::request_dump_if_due`] and [`dump_due`].
//!
//! A new request while a dump is still in flight (a slow tick, a reader that
//! fell behind) is sent at once with a fresh sequence number; replies that carry
//! an older number are dropped. If the kernel answers `EBUSY` because the old
//! dump is still running, the request is sent again when that dump's
//! `NLMSG_DONE` arrives.

mod dump;
mod gate;
#[cfg(test)]
mod tests;
mod wire;

pub(crate) use dump::DumpProgress;
pub use dump::SockDiag;
pub use wire::{parse_dump_chunk, ChunkResult, Reply};
