#![no_main]
use libfuzzer_sys::fuzz_target;
use nethergaze::parse::sockets::{parse_proc_net_tcp, Family};

fuzz_target!(|data: &[u8]| {
    for family in [Family::V4, Family::V6] {
        let mut sockets = 0u64;
        let stats = parse_proc_net_tcp(data, family, &mut |_| sockets += 1);
        assert_eq!(sockets + stats.malformed, stats.lines);
    }
});
