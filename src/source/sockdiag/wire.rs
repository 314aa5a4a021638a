//! The `NETLINK_SOCK_DIAG` / `inet_diag` wire format: the kernel's structs,
//! the dump requests we send and the parser of the replies.

use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::parse::sockets::{Family, SocketEntry, TcpState};
use crate::sys::netlink::{bytes_of, read_pod, Pod};

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h): request and reply message type.
pub(super) const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `TCPDIAG_GETSOCK` (linux/inet_diag.h): the legacy TCP request, answered
/// with replies of the same type (and the same body as `SOCK_DIAG_BY_FAMILY`).
pub(super) const TCPDIAG_GETSOCK: u16 = 18;
pub(super) const NLMSG_HDRLEN: usize = size_of::<libc::nlmsghdr>();

/// `struct inet_diag_sockid` (linux/inet_diag.h). Ports and addresses are in
/// network byte order; an IPv4 address is the first 4 bytes of `src`/`dst`.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)] // the kernel's layout, read whole; not every field is used
struct InetDiagSockId {
    sport: [u8; 2],
    dport: [u8; 2],
    src: [u8; 16],
    dst: [u8; 16],
    interface: u32,
    cookie: [u32; 2],
}

/// `struct inet_diag_req_v2`.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)] // the kernel's layout, read whole; not every field is used
struct InetDiagReqV2 {
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: InetDiagSockId,
}

/// `struct inet_diag_req`: the legacy request body. The kernel ignores its
/// `family` and dumps both (`AF_UNSPEC`).
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)] // the kernel's layout, sent whole
struct InetDiagReq {
    family: u8,
    src_len: u8,
    dst_len: u8,
    ext: u8,
    id: InetDiagSockId,
    states: u32,
    dbs: u32,
}

/// `struct inet_diag_msg`: the fixed head of each reply; attributes follow.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)] // the kernel's layout, read whole; not every field is used
struct InetDiagMsg {
    family: u8,
    state: u8,
    timer: u8,
    retrans: u8,
    id: InetDiagSockId,
    expires: u32,
    rqueue: u32,
    wqueue: u32,
    uid: u32,
    inode: u32,
}

/// A dump request as sent: header and body, no padding between them.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct DumpRequest {
    header: libc::nlmsghdr,
    body: InetDiagReqV2,
}

/// A legacy (`TCPDIAG_GETSOCK`) dump request as sent.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct LegacyRequest {
    pub(super) header: libc::nlmsghdr,
    body: InetDiagReq,
}

// The kernel ABI: a size mismatch here would misread every reply.
const _: () = assert!(size_of::<InetDiagSockId>() == 48);
const _: () = assert!(size_of::<InetDiagReqV2>() == 56);
const _: () = assert!(size_of::<InetDiagReq>() == 60);
const _: () = assert!(size_of::<LegacyRequest>() == 76);
const _: () = assert!(size_of::<InetDiagMsg>() == 72);
const _: () = assert!(size_of::<DumpRequest>() == 72);

// SAFETY: integers and arrays and structs of them, without padding (the
// size asserts above).
unsafe impl Pod for InetDiagMsg {}
// SAFETY: as above.
unsafe impl Pod for DumpRequest {}
// SAFETY: as above.
unsafe impl Pod for LegacyRequest {}

impl DumpRequest {
    /// The request as sent.
    pub(super) fn as_bytes(&self) -> &[u8] {
        bytes_of(self)
    }
}

impl LegacyRequest {
    /// The request as sent: its first `nlmsg_len` bytes (a test hook cuts it
    /// short so the kernel refuses it).
    pub(super) fn as_bytes(&self) -> &[u8] {
        let bytes = bytes_of(self);
        &bytes[..(self.header.nlmsg_len as usize).min(bytes.len())]
    }
}

/// One netlink message of a dump reply, as [`parse_dump_chunk`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A socket of the dump with sequence number `seq`.
    Socket { seq: u32, entry: SocketEntry },
    /// `NLMSG_DONE`: the dump `seq` is over; `errno` is 0 or the negative
    /// error that cut it short.
    Done { seq: u32, errno: i32 },
    /// `NLMSG_ERROR` for request `seq`: 0 is an ack, else a negative errno.
    Error { seq: u32, errno: i32 },
}

/// What one datagram held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkResult {
    /// Messages whose header could be read (any type).
    pub messages: u32,
    /// Messages with an unreadable body, plus one if a broken header or a cut
    /// message ended the walk early.
    pub malformed: u32,
}

/// Walk the netlink messages in `bytes` (one received datagram), calling `out`
/// for each socket, `NLMSG_DONE` and `NLMSG_ERROR`. Other message types are
/// skipped. Pure and panic-free on any input; the fuzz target calls it.
pub fn parse_dump_chunk(bytes: &[u8], out: &mut impl FnMut(Reply)) -> ChunkResult {
    let mut result = ChunkResult::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(header) = read_pod::<libc::nlmsghdr>(rest) else {
            result.malformed += 1;
            break;
        };
        let len = header.nlmsg_len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            result.malformed += 1;
            break;
        }
        result.messages += 1;
        if !read_message(&header, &rest[NLMSG_HDRLEN..len], out) {
            result.malformed += 1;
        }
        // Messages are 4-byte aligned; the last one may end without padding.
        let next = len.saturating_add(3) & !3;
        rest = rest.get(next..).unwrap_or_default();
    }
    result
}

/// Hand one message to `out`; `false` if its body is unreadable.
fn read_message(header: &libc::nlmsghdr, body: &[u8], out: &mut impl FnMut(Reply)) -> bool {
    let seq = header.nlmsg_seq;
    match i32::from(header.nlmsg_type) {
        libc::NLMSG_DONE => {
            // The kernel appends the dump's result; an old kernel may not.
            let errno = read_pod::<i32>(body).unwrap_or(0);
            out(Reply::Done { seq, errno });
            true
        }
        libc::NLMSG_ERROR => match read_pod::<i32>(body) {
            Some(errno) => {
                out(Reply::Error { seq, errno });
                true
            }
            None => false,
        },
        _ if matches!(header.nlmsg_type, SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK) => {
            match socket_entry(body) {
                Some(entry) => {
                    out(Reply::Socket { seq, entry });
                    true
                }
                None => false,
            }
        }
        _ => true,
    }
}

/// A socket from the body of a `SOCK_DIAG_BY_FAMILY` or `TCPDIAG_GETSOCK` reply.
fn socket_entry(body: &[u8]) -> Option<SocketEntry> {
    let msg = read_pod::<InetDiagMsg>(body)?;
    let ip = |raw: [u8; 16]| -> Option<IpAddr> {
        match i32::from(msg.family) {
            libc::AF_INET => Some(IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))),
            libc::AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(raw)).to_canonical()),
            _ => None,
        }
    };
    Some(SocketEntry {
        local: SocketAddr::new(ip(msg.id.src)?, u16::from_be_bytes(msg.id.sport)),
        remote: SocketAddr::new(ip(msg.id.dst)?, u16::from_be_bytes(msg.id.dport)),
        state: TcpState::from_kernel(msg.state)?,
        inode: msg.inode,
    })
}

/// A dump request for every TCP socket of `family` in every state.
pub(super) fn dump_request(family: Family, seq: u32) -> DumpRequest {
    let family = match family {
        Family::V4 => libc::AF_INET,
        Family::V6 => libc::AF_INET6,
    };
    DumpRequest {
        header: libc::nlmsghdr {
            nlmsg_len: size_of::<DumpRequest>() as u32,
            nlmsg_type: SOCK_DIAG_BY_FAMILY,
            nlmsg_flags: (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16,
            nlmsg_seq: seq,
            nlmsg_pid: 0,
        },
        body: InetDiagReqV2 {
            family: family as u8,
            protocol: libc::IPPROTO_TCP as u8,
            ext: 0,
            pad: 0,
            states: !0,
            id: any_socket(),
        },
    }
}

/// The legacy request for every TCP socket of both families in every state.
pub(super) fn legacy_request(seq: u32) -> LegacyRequest {
    LegacyRequest {
        header: libc::nlmsghdr {
            nlmsg_len: size_of::<LegacyRequest>() as u32,
            nlmsg_type: TCPDIAG_GETSOCK,
            nlmsg_flags: (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16,
            nlmsg_seq: seq,
            nlmsg_pid: 0,
        },
        body: InetDiagReq {
            // Ignored by the kernel (it dumps AF_UNSPEC); set for clarity.
            family: libc::AF_UNSPEC as u8,
            src_len: 0,
            dst_len: 0,
            ext: 0,
            id: any_socket(),
            states: !0,
            dbs: 0,
        },
    }
}

/// The socket id of a dump request: all zero (a dump does not filter on it).
fn any_socket() -> InetDiagSockId {
    InetDiagSockId {
        sport: [0; 2],
        dport: [0; 2],
        src: [0; 16],
        dst: [0; 16],
        interface: 0,
        cookie: [0; 2],
    }
}
