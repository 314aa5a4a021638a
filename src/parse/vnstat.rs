//! `vnstat --json m 1 -i IFACE` (vnStat 2.x, `jsonversion` 2): this
//! month's received and sent bytes of one interface.
//!
//! The answer looks like
//! `{"vnstatversion":"2.10","jsonversion":"2","interfaces":[{"name":"eth0",
//! …,"traffic":{"total":{…},"month":[{"id":1,"date":{"year":2026,"month":12},
//! "timestamp":…,"rx":336,"tx":336}]}}]}`: only the fields read here are
//! declared, the rest is skipped. The caller bounds the input
//! ([`MAX_ANSWER`]) and serde_json bounds the nesting, so a hostile or
//! broken answer is an error, never a panic or unbounded memory.

use serde::Deserialize;

/// The largest answer read from vnstat: one interface and one month are
/// about 400 bytes; a database with many interfaces stays far below.
pub(crate) const MAX_ANSWER: usize = 64 << 10; // 64 KiB

/// One month's totals of one interface, as vnstat counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MonthTotals {
    pub(crate) year: u16,
    /// 1 to 12.
    pub(crate) month: u8,
    /// Bytes received.
    pub(crate) rx: u64,
    /// Bytes sent.
    pub(crate) tx: u64,
}

/// Why an answer gave no totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VnstatParseError {
    /// Not vnstat's JSON (or cut off, or over [`MAX_ANSWER`]).
    NotJson,
    /// The JSON does not list the interface asked for.
    NoInterface,
    /// The interface is there but has no month yet (the daemon has not
    /// written any traffic for it).
    NoMonth,
}

impl std::fmt::Display for VnstatParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VnstatParseError::NotJson => "unreadable answer",
            VnstatParseError::NoInterface => "interface not in the answer",
            VnstatParseError::NoMonth => "no data yet",
        })
    }
}

#[derive(Deserialize)]
struct Answer {
    interfaces: Vec<Interface>,
}

#[derive(Deserialize)]
struct Interface {
    name: String,
    traffic: Traffic,
}

#[derive(Deserialize)]
struct Traffic {
    #[serde(default)]
    month: Vec<Month>,
}

#[derive(Deserialize)]
struct Month {
    date: MonthDate,
    rx: u64,
    tx: u64,
}

#[derive(Deserialize)]
struct MonthDate {
    year: u16,
    month: u8,
}

/// The latest month of `iface` in `answer` (vnstat lists months oldest
/// first; `m 1` asks for the current one only).
pub(crate) fn month_totals(answer: &[u8], iface: &str) -> Result<MonthTotals, VnstatParseError> {
    if answer.len() > MAX_ANSWER {
        return Err(VnstatParseError::NotJson);
    }
    let answer: Answer = serde_json::from_slice(answer).map_err(|_| VnstatParseError::NotJson)?;
    let interface = answer
        .interfaces
        .iter()
        .find(|i| i.name == iface)
        .ok_or(VnstatParseError::NoInterface)?;
    let month = interface
        .traffic
        .month
        .iter()
        .max_by_key(|m| (m.date.year, m.date.month))
        .ok_or(VnstatParseError::NoMonth)?;
    if !(1..=12).contains(&month.date.month) {
        return Err(VnstatParseError::NotJson);
    }
    Ok(MonthTotals {
        year: month.date.year,
        month: month.date.month,
        rx: month.rx,
        tx: month.tx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What vnStat 2.10 printed for `vnstat --json m 1 -i vt0` on a test
    /// interface.
    const REAL: &str = r#"{"vnstatversion":"2.10","jsonversion":"2","interfaces":[{"name":"vt0","alias":"","created":{"date":{"year":2026,"month":12,"day":7},"timestamp":1796608704},"updated":{"date":{"year":2026,"month":12,"day":7},"time":{"hour":1,"minute":58},"timestamp":1796608706},"traffic":{"total":{"rx":336,"tx":336},"month":[{"id":1,"date":{"year":2026,"month":12},"timestamp":1796083200,"rx":336,"tx":441}]}}]}"#;

    #[test]
    fn reads_the_real_answer() {
        let totals = month_totals(REAL.as_bytes(), "vt0").expect("totals");
        assert_eq!(
            totals,
            MonthTotals {
                year: 2026,
                month: 12,
                rx: 336,
                tx: 441
            }
        );
    }

    #[test]
    fn empty_month_list_and_other_interfaces() {
        let empty =
            r#"{"interfaces":[{"name":"vt0","traffic":{"total":{"rx":0,"tx":0},"month":[]}}]}"#;
        assert_eq!(
            month_totals(empty.as_bytes(), "vt0"),
            Err(VnstatParseError::NoMonth)
        );
        assert_eq!(
            month_totals(REAL.as_bytes(), "eth0"),
            Err(VnstatParseError::NoInterface)
        );
    }

    #[test]
    fn the_latest_month_wins_whatever_the_order() {
        let two = r#"{"interfaces":[{"name":"e","traffic":{"month":[
            {"date":{"year":2026,"month":12},"rx":5,"tx":6},
            {"date":{"year":2026,"month":11},"rx":1,"tx":2}]}}]}"#;
        let t = month_totals(two.as_bytes(), "e").expect("totals");
        assert_eq!((t.month, t.rx, t.tx), (12, 5, 6));
    }

    #[test]
    fn hostile_answers_are_errors_not_panics() {
        let deep = "[".repeat(100_000);
        let long = format!(
            r#"{{"interfaces":[{{"name":"{}"}}]}}"#,
            "x".repeat(MAX_ANSWER)
        );
        let cases: [&[u8]; 12] = [
            b"",
            b"\xff\xfe\x00",
            b"null",
            b"{\"interfaces\":null}",
            b"{\"interfaces\":[{\"name\":\"e\",\"traffic\":{\"month\":[{\"date\":{\"year\":2026,\"month\":13},\"rx\":1,\"tx\":1}]}}]}",
            b"{\"interfaces\":[{\"name\":\"e\",\"traffic\":{\"month\":[{\"date\":{\"year\":2026,\"month\":1},\"rx\":-1,\"tx\":1}]}}]}",
            b"{\"interfaces\":[{\"name\":\"e\",\"traffic\":{\"month\":[{\"date\":{\"year\":2026,\"month\":1},\"rx\":1e400,\"tx\":1}]}}]}",
            b"{\"interfaces\":[{\"name\":\"e\",\"traffic\":{\"month\":[{\"date\":{\"year\":99999,\"month\":1},\"rx\":1,\"tx\":1}]}}]}",
            b"{\"interfaces\":[{\"name\":\"e\",\"traffic\":{\"month\":[{\"date\":{\"year\":2026,\"month\":1},\"rx\":18446744073709551616,\"tx\":1}]}}]}",
            b"{\"interfaces\":[{\"name\":\"e\",\"traffic\":{\"month\":[{\"date\":{\"year\":2026,\"month\":1},\"rx\":1,\"tx\":1}]}}]",
            deep.as_bytes(),
            long.as_bytes(),
        ];
        for case in cases {
            assert!(
                month_totals(case, "e").is_err(),
                "{:?}",
                String::from_utf8_lossy(&case[..case.len().min(80)])
            );
        }
        // The largest numbers vnstat can write are kept exactly.
        let max = format!(
            r#"{{"interfaces":[{{"name":"e","traffic":{{"month":[{{"date":{{"year":2026,"month":1}},"rx":{},"tx":0}}]}}}}]}}"#,
            u64::MAX
        );
        assert_eq!(
            month_totals(max.as_bytes(), "e").map(|t| t.rx),
            Ok(u64::MAX)
        );
    }
}
