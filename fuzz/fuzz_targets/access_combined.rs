#![no_main]
use libfuzzer_sys::fuzz_target;
use nethergaze::parse::access::AccessParser;

// Per thread: the parser memoises the last timestamp (a Cell), which the
// fuzzer then exercises across inputs.
thread_local! {
    static PARSERS: [AccessParser; 2] = [
        AccessParser::new("combined", Vec::new()).expect("valid format"),
        AccessParser::new("auto", Vec::new()).expect("valid format"),
    ];
}

// The combined fast path must give exactly what the generic program gives.
fuzz_target!(|data: &[u8]| {
    PARSERS.with(|parsers| {
        for parser in parsers {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let fast = parser.parse(data, &mut a);
            let generic = parser.parse_generic(data, &mut b);
            assert_eq!(fast, generic, "{:?}", String::from_utf8_lossy(data));
        }
    });
});
