#![no_main]
//! What the firewalls and ban engines answer (issue 14 item 5), any bytes:
//! no panic, and never more than `MAX_ENTRIES` networks kept.
use libfuzzer_sys::fuzz_target;
use nethergaze::parse::blocklist::{self, Blocker, MAX_ENTRIES, MAX_JAILS};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = blocklist::nft_table(data, &mut out);
    blocklist::iptables_rules(data, Blocker::Iptables, &mut out);
    blocklist::fail2ban_banned(data, &mut out);
    blocklist::fail2ban_ban_times(data, |_, _, _, _, _, _| Some(0), &mut out);
    let _ = blocklist::cscli_decisions(data, &mut out);
    assert!(out.len() <= MAX_ENTRIES);
    assert!(blocklist::fail2ban_jails(data).len() <= MAX_JAILS);
});
