//! The netlink socket the TCP table is dumped through (`NETLINK_SOCK_DIAG`):
//! open and connect it to the kernel, send a request, receive a datagram.
//! The messages themselves are `source::sockdiag::wire`'s, read and written
//! through [`Pod`].

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Plain integer structs: every bit pattern is a valid value, and every
/// byte of a value is initialised. The kernel's message structs are read
/// from and written as bytes through this.
///
/// # Safety
/// Implement only for `Copy` types made of integers and arrays of integers,
/// with no padding (assert the size where the type is defined).
pub(crate) unsafe trait Pod: Copy {}
// SAFETY: 16 bytes of u32/u16/u16/u32/u32, no padding.
unsafe impl Pod for libc::nlmsghdr {}
// SAFETY: an integer.
unsafe impl Pod for i32 {}

/// Read a `T` from the start of `bytes`, or `None` if there are too few.
pub(crate) fn read_pod<T: Pod>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: the length is checked above, read_unaligned needs no alignment,
    // and `T: Pod` makes any bytes a valid `T`.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// The bytes of `value`, as sent to the kernel.
pub(crate) fn bytes_of<T: Pod>(value: &T) -> &[u8] {
    // SAFETY: `value` is a live `T` of `size_of::<T>()` bytes, and `T: Pod`
    // has no padding, so every one of those bytes is initialised.
    unsafe { std::slice::from_raw_parts(std::ptr::from_ref(value).cast::<u8>(), size_of::<T>()) }
}

/// A non-blocking, close-on-exec `NETLINK_SOCK_DIAG` socket, connected to
/// the kernel so the kernel refuses messages from any other netlink sender.
/// Fails cleanly where netlink is refused (sandboxes, seccomp).
pub(crate) fn open_sock_diag() -> io::Result<OwnedFd> {
    let flags = libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: plain syscall with constant arguments.
    let raw = unsafe { libc::socket(libc::AF_NETLINK, flags, libc::NETLINK_SOCK_DIAG) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let kernel = kernel_addr();
    // SAFETY: `kernel` is a valid sockaddr_nl and the length is its size.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            std::ptr::from_ref(&kernel).cast(),
            sockaddr_nl_len(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Send `message` (one whole netlink message) on `fd`, retrying `EINTR`.
pub(crate) fn send(fd: RawFd, message: &[u8]) -> io::Result<()> {
    loop {
        // SAFETY: `message` is a live slice of exactly `message.len()` bytes.
        let rc = unsafe { libc::send(fd, message.as_ptr().cast(), message.len(), 0) };
        if rc >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// One datagram into `buf` (`MSG_TRUNC`): `Some((full length, sender's port
/// id))`, the length possibly past `buf.len()`, the port id 0 for the
/// kernel; `None` when nothing is queued. `EINTR` is retried.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<(usize, u32)>> {
    loop {
        let mut from = MaybeUninit::<libc::sockaddr_nl>::zeroed();
        let mut from_len = sockaddr_nl_len();
        // SAFETY: the buffer pointer and length describe `buf`; `from`
        // is large enough for the address the kernel writes.
        let rc = unsafe {
            libc::recvfrom(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
                from.as_mut_ptr().cast(),
                &mut from_len,
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(None),
                _ => return Err(err),
            }
        }
        // SAFETY: zero-initialised, and a sockaddr_nl is plain integers.
        let from = unsafe { from.assume_init() };
        return Ok(Some((rc.unsigned_abs(), from.nl_pid)));
    }
}

/// The kernel's netlink address (port id 0).
fn kernel_addr() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain integers; all-zero is valid.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr
}

fn sockaddr_nl_len() -> libc::socklen_t {
    size_of::<libc::sockaddr_nl>() as libc::socklen_t
}
