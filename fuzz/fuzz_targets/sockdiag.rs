#![no_main]
use libfuzzer_sys::fuzz_target;
use nethergaze::source::sockdiag::parse_dump_chunk;

// Raw bytes as one received netlink datagram.
fuzz_target!(|data: &[u8]| {
    let mut replies = 0u32;
    let result = parse_dump_chunk(data, &mut |_| replies += 1);
    assert!(replies <= result.messages);
});
