#![no_main]
//! Seven filter fields split on 0xFF, parsed: an error must display, a spec
//! must describe itself and test a log line without panicking.
use libfuzzer_sys::fuzz_target;
use nethergaze::config::FilterConfig;
use nethergaze::ui::filter::{EventView, FilterFields, FilterSpec};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0xFF).map(String::from_utf8_lossy);
    let mut next = || parts.next().unwrap_or_default();
    let (states, status, min_rpm) = (next(), next(), next());
    let (cidr_allow, cidr_deny, text, blocked) = (next(), next(), next(), next());
    let fields = FilterFields {
        states: &states,
        status: &status,
        min_rpm: &min_rpm,
        cidr_allow: &cidr_allow,
        cidr_deny: &cidr_deny,
        text: &text,
        blocked: &blocked,
    };
    match FilterSpec::parse(&fields, &FilterConfig::default()) {
        Ok(spec) => {
            let _ = spec.describe();
            let event = EventView {
                ip: std::net::Ipv4Addr::new(203, 0, 113, 7).into(),
                status: Some(404),
                path: data,
                user_agent: data,
                org: Some(data),
            };
            let _ = spec.matches_event(&event, None, 0);
        }
        Err(errors) => errors
            .iter()
            .for_each(|e| assert!(!e.to_string().is_empty())),
    }
});
