#![no_main]
use libfuzzer_sys::fuzz_target;
use nethergaze::parse::access::AccessParser;

// Per thread: the parser memoises the last timestamp (a Cell), which the
// fuzzer then exercises across inputs.
thread_local! {
    static PARSER: AccessParser = {
    AccessParser::new(r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" rt=$request_time urt="$upstream_response_time" $host $msec $unknown_var $time_iso8601"#, Vec::new()).expect("valid format")
};
}

fuzz_target!(|data: &[u8]| {
    PARSER.with(|parser| {
        let _ = parser.parse(data, &mut Vec::new());
    });
});
