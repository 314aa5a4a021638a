//! The dashboard's key bindings as one table: the help screen (`?`) draws it
//! and `--generate man` prints it as the KEYS section, so they cannot drift.

/// Every binding, as (keys, what), in help order.
pub(crate) const BINDINGS: [(&str, &str); 21] = [
    ("q", "quit"),
    ("Tab / Shift+Tab", "switch panel (IP table, activity log)"),
    ("↑ ↓  j k", "move the cursor, or scroll the log"),
    ("PgUp PgDn", "move a page"),
    ("Home End", "first / last row (End: follow the log)"),
    ("Enter", "drill down into the selected IP"),
    (
        "s",
        "sort by connections, requests, bytes, auth, services, IP",
    ),
    ("w", "whois lookup for the selected IP now"),
    ("r", "refresh all data now"),
    (
        "/",
        "quick text filter: IP, status, method, path, user agent",
    ),
    ("f", "structured filter"),
    ("!", "suspicious mode (again: restore the filters)"),
    ("n", "cycle grouping: network, ASN, country, none"),
    ("p", "show / hide private and loopback addresses, live"),
    ("c", "copy the selected IP (OSC 52)"),
    ("b", "block assist for the selected IP"),
    (
        "1 … 9, any free key",
        "custom hooks ([[actions.hooks]] in the config)",
    ),
    ("?", "this help"),
    ("Esc", "close any modal"),
    ("Ctrl+Z", "suspend (fg to come back)"),
    ("Ctrl+C", "quit"),
];

/// Keys inside the modals, as (keys, what), in help order.
pub(crate) const IN_MODALS: [(&str, &str); 7] = [
    (
        "/ line",
        "Enter applies, Esc dismisses (an empty line clears)",
    ),
    (
        "filter form",
        "Tab ↓ / Shift+Tab ↑ move, Enter applies, Ctrl+L clears",
    ),
    (
        "block assist",
        "s scope (IP, /24 or /64, whois network), t tool, c copy",
    ),
    (
        "block assist",
        "x run, then y yes / n no (Y overrides a refusal)",
    ),
    (
        "hook output",
        "↑ ↓ PgUp PgDn Home End scroll, c copies, Enter closes",
    ),
    (
        "drill-down",
        "c copy, w whois now, b block, hook keys: on its IP",
    ),
    (
        "this help",
        "↑ ↓ PgUp PgDn Home End scroll it on a short terminal",
    ),
];

/// Every printable key a built-in binding takes, on the main screen or in a
/// modal where hook keys also work (drill-down, hook output, help), as
/// (key, action). A hook may not take one of these.
const TAKEN_KEYS: [(char, &str); 15] = [
    ('q', "quit"),
    ('?', "help"),
    ('r', "refresh"),
    ('c', "copy"),
    ('w', "whois"),
    ('b', "block assist"),
    ('s', "sort"),
    ('!', "suspicious mode"),
    ('p', "private addresses"),
    ('/', "quick filter"),
    ('f', "structured filter"),
    ('j', "move down"),
    ('k', "move up"),
    ('g', "first row"),
    ('G', "last row"),
];

/// Keys bound since 0.2.0, as (key, action). 0.2.0 let a hook sit on any
/// key not in [`TAKEN_KEYS`], so a hook still may take one of these: the
/// hook wins and the built-in is then off that key (a 0.2.0 config keeps
/// working as it did). Listed for the test that every other key is free.
#[cfg(test)]
const ADDED_KEYS: [(char, &str); 1] = [('n', "group by network, ASN or country")];

/// The built-in added since 0.2.0 on `key`, if any (a hook there wins).
#[cfg(test)]
pub(crate) fn added_action(key: char) -> Option<&'static str> {
    ADDED_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, what)| *what)
}

/// The built-in action bound to `key`, if any (a hook on it would clash).
pub(crate) fn built_in_action(key: char) -> Option<&'static str> {
    TAKEN_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, what)| *what)
}
