#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parser = nethergaze::parse::auth::AuthParser::new(1_764_092_512);
    data.split(|&b| b == b'\n')
        .for_each(|line| drop(parser.parse(line)));
});
