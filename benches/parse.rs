//! Parser benchmarks: bytes/s per format over a few thousand generated lines.
//! Lines/s = lines per iteration / time per iteration (printed by criterion
//! as the time; each access bench names its line count).
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use nethergaze::detect::{DetectSettings, Detector};
use nethergaze::parse::access::{AccessParser, LeadAhead};
use nethergaze::parse::auth::AuthParser;
use nethergaze::parse::sockets::{parse_proc_net_tcp, Family};
use nethergaze::table::IpTable;

// ---- access logs -------------------------------------------------------------

/// Lines per access bench iteration.
const ACCESS_LINES: usize = 4096;

/// A custom nginx format of the kind operators write for reverse proxies.
const MAIN_EXT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" rt=$request_time urt="$upstream_response_time""#;

/// Small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn client(r: &mut Rng) -> String {
    if r.below(10) == 0 {
        format!("2001:db8:{:x}::{:x}", r.below(0xffff), r.below(0xffff))
    } else {
        format!(
            "{}.{}.{}.{}",
            1 + r.below(223),
            r.below(256),
            r.below(256),
            r.below(256)
        )
    }
}

fn request(r: &mut Rng) -> &'static str {
    const REQUESTS: [&str; 6] = [
        "GET / HTTP/1.1",
        "GET /static/app.3f9a1c.js HTTP/2.0",
        "POST /api/v1/login HTTP/1.1",
        "GET /wp-login.php HTTP/1.1",
        "GET /search?q=nethergaze+rust&page=2 HTTP/1.1",
        r"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ];
    REQUESTS[r.below(REQUESTS.len() as u64) as usize]
}

const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const TIME: &str = "25/Nov/2026:17:41:52 +0000";

fn access_log(kind: &str) -> Vec<u8> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::new();
    for _ in 0..ACCESS_LINES {
        let (ip, req, status, bytes) = (
            client(&mut r),
            request(&mut r),
            200 + r.below(300),
            r.below(100_000),
        );
        let line = match kind {
            "common" => format!("{ip} - - [{TIME}] \"{req}\" {status} {bytes}"),
            "vhost_combined" => format!(
                "www.example.com:443 {ip} - - [{TIME}] \"{req}\" {status} {bytes} \"https://www.example.com/\" \"{UA}\""
            ),
            "json" => format!(
                r#"{{"level":"info","ts":1795628512.5241024,"logger":"http.log.access.log0","msg":"handled request","request":{{"remote_ip":"{ip}","remote_port":"41342","client_ip":"{ip}","proto":"HTTP/2.0","method":"GET","host":"example.com","uri":"/static/app.js","headers":{{"Accept":["*/*"],"User-Agent":["{UA}"],"Accept-Encoding":["gzip, br"]}},"tls":{{"resumed":false,"version":772,"cipher_suite":4865,"proto":"h2","server_name":"example.com"}}}},"bytes_read":0,"user_id":"","duration":0.000929675,"size":{bytes},"status":{status},"resp_headers":{{"Server":["Caddy"],"Content-Type":["text/javascript"]}}}}"#
            ),
            "custom" => format!(
                "{ip} - - [{TIME}] \"{req}\" {status} {bytes} \"-\" \"{UA}\" \"198.51.100.7, 10.0.0.2\" rt=0.004 urt=\"0.002, 0.001\""
            ),
            _ => format!("{ip} - - [{TIME}] \"{req}\" {status} {bytes} \"https://www.example.com/\" \"{UA}\""),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.into_bytes()
}

fn access(c: &mut Criterion) {
    let mut group = c.benchmark_group("access");
    for (kind, spec) in [
        ("combined", "combined"),
        ("common", "common"),
        ("vhost_combined", "vhost_combined"),
        ("json", "json"),
        ("custom", MAIN_EXT),
        ("auto_combined", "auto"),
    ] {
        let parser = AccessParser::new(spec, Vec::new()).expect("valid format");
        let log = access_log(kind.trim_start_matches("auto_"));
        let lines: Vec<&[u8]> = log
            .split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let mut scratch = Vec::new();
        assert!(
            lines.iter().all(|l| parser.parse(l, &mut scratch).is_ok()),
            "{kind}: generated lines must parse"
        );
        group.throughput(Throughput::Bytes(log.len() as u64));
        group.bench_with_input(BenchmarkId::new(kind, ACCESS_LINES), &lines, |b, lines| {
            b.iter(|| {
                let mut ok = 0u32;
                for line in lines {
                    ok += u32::from(parser.parse(black_box(line), &mut scratch).is_ok());
                }
                ok
            })
        });
    }
    group.finish();
}

// ---- sshd ---------------------------------------------------------------------

/// The sshd corpus (real OpenSSH 9.2 lines mixed with other programs' lines).
fn auth(c: &mut Criterion) {
    let corpus = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sshd_corpus.txt"
    ))
    .expect("corpus");
    let lines: Vec<&[u8]> = corpus
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
        .collect();
    let mut group = c.benchmark_group("auth");
    group.throughput(Throughput::Bytes(
        lines.iter().map(|l| l.len() as u64 + 1).sum(),
    ));
    group.bench_with_input(
        BenchmarkId::new("corpus", lines.len()),
        &lines,
        |b, lines| {
            let mut parser = AuthParser::new(1_795_628_512);
            b.iter(|| {
                let mut events = 0u32;
                for line in lines {
                    events += u32::from(parser.parse(black_box(line)).is_some());
                }
                events
            })
        },
    );
    group.finish();
}

// ---- /proc/net/tcp --------------------------------------------------------------

fn procnet(c: &mut Criterion) {
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/proc/net/tcp"
    ))
    .expect("fixture");
    let (header, rows) =
        fixture.split_at(fixture.iter().position(|&c| c == b'\n').unwrap_or(0) + 1);
    // About 10 000 sockets: the fixture's rows repeated.
    let mut table = header.to_vec();
    while table.len() < 1_500_000 {
        table.extend_from_slice(rows);
    }
    let mut group = c.benchmark_group("procnet");
    group.throughput(Throughput::Bytes(table.len() as u64));
    group.bench_function("tcp", |b| {
        b.iter(|| {
            let mut n = 0u32;
            parse_proc_net_tcp(black_box(&table), Family::V4, &mut |_| n += 1);
            n
        })
    });
    group.finish();
}

// ---- the table -------------------------------------------------------------------

/// Parse and apply combined lines: the whole per-line path below the reader.
fn table_apply(c: &mut Criterion) {
    let parser = AccessParser::new("combined", Vec::new()).expect("valid format");
    let mut detector = Detector::new(DetectSettings::default()).expect("default patterns");
    let log = access_log("combined");
    let lines: Vec<&[u8]> = log
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut group = c.benchmark_group("table");
    group.throughput(Throughput::Bytes(log.len() as u64));
    group.bench_with_input(
        BenchmarkId::new("parse_and_apply", ACCESS_LINES),
        &lines,
        |b, lines| {
            let mut table = IpTable::new(50_000, true);
            table.set_flagged(detector.flagged_test());
            let mut scratch = Vec::new();
            b.iter(|| {
                for line in lines {
                    if let Ok((hit, _)) = parser.parse(black_box(line), &mut scratch) {
                        // The engine's line feed: count, then classify.
                        if let Some((applied, request)) = table.apply_access(&hit, 1_795_628_512) {
                            detector.check_request(&mut table, applied.row, &request, &hit);
                        }
                    }
                }
                table.len()
            })
        },
    );
    group.finish();
}

/// Lines of the many-clients bench: enough that the table outgrows the caches.
const FEED_LINES: usize = 1 << 16;
/// Distinct clients of the many-clients bench (issue 13's busy site).
const FEED_CLIENTS: usize = 20_000;

/// The engine's line feed over 20 000 clients: the next line's address
/// read one line ahead and its row prefetched, parse (taking that address),
/// count, classify. At this many rows the index and the rows miss the
/// cache, as they do end to end. The lines lie in one buffer, as in the
/// reader's, so each line has the bytes after it to read ahead from.
fn table_feed(c: &mut Criterion) {
    let parser = AccessParser::new("combined", Vec::new()).expect("valid format");
    let mut detector = Detector::new(DetectSettings::default()).expect("default patterns");
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let clients: Vec<String> = (0..FEED_CLIENTS).map(|_| client(&mut r)).collect();
    let mut log = Vec::new();
    let mut lines = Vec::with_capacity(FEED_LINES);
    for _ in 0..FEED_LINES {
        let ip = &clients[r.below(FEED_CLIENTS as u64) as usize];
        let (req, status, bytes) = (request(&mut r), 200 + r.below(300), r.below(100_000));
        let start = log.len();
        log.extend_from_slice(
            format!("{ip} - - [{TIME}] \"{req}\" {status} {bytes} \"https://www.example.com/\" \"{UA}\"")
                .as_bytes(),
        );
        lines.push(start..log.len());
        log.push(b'\n');
    }
    let mut group = c.benchmark_group("table");
    group.throughput(Throughput::Bytes(log.len() as u64));
    group.bench_with_input(
        BenchmarkId::new("feed_20k_clients", FEED_LINES),
        &lines,
        |b, lines| {
            let mut table = IpTable::new(50_000, true);
            table.set_flagged(detector.flagged_test());
            let mut scratch = Vec::new();
            let mut ahead = LeadAhead::default();
            b.iter(|| {
                for range in lines {
                    let (line, next) = (&log[range.clone()], &log[range.end + 1..]);
                    let known = table.next_line(&mut ahead, next);
                    let parsed = parser.parse_after(black_box(line), &mut scratch, &known, |ip| {
                        table.prefetch(ip)
                    });
                    if let Ok((hit, _)) = parsed {
                        if let Some((applied, request)) = table.apply_access(&hit, 1_795_628_512) {
                            detector.check_request(&mut table, applied.row, &request, &hit);
                        }
                    }
                }
                table.len()
            })
        },
    );
    group.finish();
}

criterion_group!(benches, access, auth, procnet, table_apply, table_feed);
criterion_main!(benches);
