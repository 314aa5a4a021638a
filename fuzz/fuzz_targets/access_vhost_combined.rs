#![no_main]
use libfuzzer_sys::fuzz_target;
use nethergaze::parse::access::AccessParser;

// Per thread: the parser memoises the last timestamp (a Cell), which the
// fuzzer then exercises across inputs.
thread_local! {
    static PARSER: AccessParser = AccessParser::new("vhost_combined", Vec::new()).expect("valid format");
}

fuzz_target!(|data: &[u8]| {
    PARSER.with(|parser| {
        let _ = parser.parse(data, &mut Vec::new());
    });
});
