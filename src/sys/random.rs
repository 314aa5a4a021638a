//! Kernel entropy (`getrandom`), without blocking.

/// Fill `buf` from the kernel's entropy pool; `false` if it could not be
/// filled at once (no entropy yet, early boot): the caller falls back.
pub(crate) fn fill_nonblocking(buf: &mut [u8]) -> bool {
    // SAFETY: getrandom writes at most `buf.len()` bytes into `buf`.
    let got = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), libc::GRND_NONBLOCK) };
    usize::try_from(got).is_ok_and(|n| n == buf.len())
}
