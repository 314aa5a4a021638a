//! History snapshots of a full table: 20 000 addresses written to a SQLite
//! file in one transaction (issue 4: under 100 ms).
//!
//! - `first`: every row is new (the first snapshot of a busy run);
//! - `all_changed`: every row gained requests since the last snapshot (the
//!   worst steady state: one upsert per row);
//! - `unchanged`: nothing moved (rows equal to the last snapshot cost no
//!   write, only the comparison).
//!
//! Each sample opens its own file in a temporary folder, as a run would.
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

use nethergaze::store::{History, SessionRow, SnapshotOutcome};

const ROWS: u32 = 20_000;
const START: i64 = 1_764_000_000;

/// Row `n` of the table after `requests` requests each.
fn row(n: u32, requests: u64) -> SessionRow {
    SessionRow {
        ip: IpAddr::V4(Ipv4Addr::from(0x5000_0000 + n * 7)),
        first_seen: START + i64::from(n % 600),
        last_seen: START + 600 + i64::from(n % 600),
        requests,
        bytes: requests * 4_096,
        auth_failures: u64::from(n.is_multiple_of(17)),
        suspicious: n.is_multiple_of(50),
        country: Some("DE".into()),
        org: Some("Example Hosting GmbH".into()),
        last_paths: vec!["/".into(), "/static/app.js".into(), "/search?q=rust".into()],
    }
}

fn table(requests: u64) -> impl Iterator<Item = SessionRow> {
    (0..ROWS).map(move |n| row(n, requests))
}

/// A history file in a fresh folder, with the first snapshot written when
/// `seeded`.
fn open(seeded: bool) -> (tempfile::TempDir, History) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut history = History::open(&dir.path().join("history.db"), START).expect("open history");
    if seeded {
        history.snapshot(table(3)).expect("first snapshot");
    }
    (dir, history)
}

fn written(outcome: SnapshotOutcome) -> usize {
    match outcome {
        SnapshotOutcome::Written { changed } => changed,
        SnapshotOutcome::Busy => panic!("nobody else holds the file"),
    }
}

fn snapshots(c: &mut Criterion) {
    let mut group = c.benchmark_group("history_snapshot_20k");
    group.sample_size(10);
    let cases: [(&str, bool, u64, usize); 3] = [
        ("first", false, 3, ROWS as usize),
        ("all_changed", true, 4, ROWS as usize),
        ("unchanged", true, 3, 0),
    ];
    for (name, seeded, requests, expect) in cases {
        group.bench_function(name, |b| {
            b.iter_batched(
                || open(seeded),
                |(dir, mut history)| {
                    let changed = written(history.snapshot(table(requests)).expect("snapshot"));
                    assert_eq!(changed, expect);
                    (dir, history)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, snapshots);
criterion_main!(benches);
