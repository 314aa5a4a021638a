#![no_main]
use libfuzzer_sys::fuzz_target;
use nethergaze::enrich::geoip::fuzz_open_and_lookup;

fuzz_target!(|data: &[u8]| {
    // GeoIP memory-maps a file: each input goes to this process's one file.
    let path =
        std::env::temp_dir().join(format!("nethergaze-fuzz-geoip-{}.mmdb", std::process::id()));
    std::fs::write(&path, data).expect("write the input file");
    fuzz_open_and_lookup(&path);
});
