//! Grouping the table (issue 15 item 3): one grouping of 50 000 rows
//! (`max_tracked_ips`' default) by network, ASN and country, as the
//! dashboard does each frame while grouped and `--group-by` once per
//! snapshot. The rows: 2 000 /24s of 22 addresses and 6 000 IPv6 addresses
//! in 600 /64s, each with a few requests.
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

use nethergaze::detect::{DetectSettings, Detector};
use nethergaze::parse::access::AccessParser;
use nethergaze::table::IpTable;
use nethergaze::view::groups::{GroupBy, Grouper};

const ROWS: usize = 50_000;
const END: i64 = 1_795_628_512;

fn clients() -> Vec<String> {
    let v4 = (0..44_000).map(|n| {
        let net = n / 22;
        format!("{}.{}.7.{}", 11 + net / 256, net % 256, 1 + n % 22)
    });
    let v6 = (0..ROWS - 44_000).map(|n| format!("2001:db8:{:x}::{:x}", n / 10, 1 + n % 10));
    v4.chain(v6).collect()
}

fn table(detector: &mut Detector) -> IpTable {
    let parser = AccessParser::new("combined", Vec::new()).expect("valid format");
    let mut table = IpTable::new(ROWS, true);
    let mut scratch = Vec::new();
    for (n, ip) in clients().iter().enumerate() {
        for k in 0..(1 + n % 3) {
            let line = format!(
                "{ip} - - [25/Nov/2026:17:41:{:02} +0000] \"GET /page/{k} HTTP/1.1\" 200 {} \"-\" \"curl/8.0\"",
                n % 60,
                100 + n % 900
            );
            if let Ok((hit, _)) = parser.parse(line.as_bytes(), &mut scratch) {
                if let Some((applied, request)) = table.apply_access(&hit, END) {
                    detector.check_request(&mut table, applied.row, &request, &hit);
                }
            }
        }
    }
    assert_eq!(table.len(), ROWS);
    table
}

fn grouping(c: &mut Criterion) {
    let mut detector = Detector::new(DetectSettings::default()).expect("default patterns");
    let table = table(&mut detector);
    let mut grouper = Grouper::default();
    let mut group = c.benchmark_group("groups");
    for (name, by) in [
        ("net", GroupBy::Net),
        ("asn", GroupBy::Asn),
        ("country", GroupBy::Country),
    ] {
        group.bench_with_input(BenchmarkId::new(name, ROWS), &by, |b, &by| {
            b.iter(|| {
                grouper
                    .group_table(black_box(&table), &detector, by, END)
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, grouping);
criterion_main!(benches);
