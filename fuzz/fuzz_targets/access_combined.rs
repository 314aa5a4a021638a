#![no_main]
use libfuzzer_sys::fuzz_target;
use nethergaze::parse::access::AccessParser;
use std::sync::LazyLock;

static PARSER: LazyLock<AccessParser> =
    LazyLock::new(|| AccessParser::new("combined", Vec::new()).expect("valid format"));

fuzz_target!(|data: &[u8]| {
    let _ = PARSER.parse(data, &mut Vec::new());
});
