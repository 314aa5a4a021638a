#![no_main]
use libfuzzer_sys::fuzz_target;
use nethergaze::parse::access::{AccessParser, LeadAhead};

// Per thread: the parser memoises the last timestamp (a Cell), which the
// fuzzer then exercises across inputs.
thread_local! {
    static PARSERS: [AccessParser; 2] = [
        AccessParser::new("combined", Vec::new()).expect("valid format"),
        AccessParser::new("auto", Vec::new()).expect("valid format"),
    ];
}

// The combined fast path must give exactly what the generic program gives,
// and so must a parse that takes the leading address read one line early
// (here from the line itself, or from its first half: a cut-off read).
fuzz_target!(|data: &[u8]| {
    PARSERS.with(|parsers| {
        for parser in parsers {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let fast = parser.parse(data, &mut a);
            let generic = parser.parse_generic(data, &mut b);
            assert_eq!(fast, generic, "{:?}", String::from_utf8_lossy(data));
            for read in [data, &data[..data.len() / 2]] {
                let mut ahead = LeadAhead::default();
                ahead.read(read);
                let mut c = Vec::new();
                let after = parser.parse_after(data, &mut c, &ahead, |_| {});
                assert_eq!(after, generic, "{:?}", String::from_utf8_lossy(data));
            }
        }
    });
});
