//! The drill-down's whois line: what whois is doing for an address it has
//! no answer for.

use super::*;

const NOW: UnixTime = 1_700_000_000;

#[test]
fn the_whois_line_says_what_whois_is_doing() {
    let line = |state| whois_state_line(state, NOW);
    assert_eq!(
        line(WhoisState::NotPublic),
        "whois: not looked up (a private or reserved address)"
    );
    assert_eq!(line(WhoisState::Queued), "whois: queued (looking it up)");
    assert!(line(WhoisState::Waiting).starts_with("whois: not asked yet"));
    assert!(line(WhoisState::Off).starts_with("whois: off (--no-whois"));
    let failed = WhoisState::Failed {
        why: "connection failed: refused",
        retry_at: NOW + 290,
    };
    assert_eq!(
        line(failed),
        "whois: failed: connection failed: refused · next retry in 4m50s (w asks now)"
    );
    let due = WhoisState::Failed {
        why: "",
        retry_at: NOW - 1,
    };
    assert_eq!(
        line(due),
        "whois: failed: remembered from an earlier run · next retry now, in the background \
         (w asks now)"
    );
}
