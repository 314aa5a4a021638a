//! Parsing tests, and lookups against loopback HTTP servers started here (the real
//! registries are on the internet, out of reach here and in CI; see tests/it/whois.rs).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::client::{lookup, next_url};
use super::rdap::parse_ip_network;
use super::worker::{Reply, Request};
use super::*;

const ARIN_LIKE: &str = r#"{
  "objectClassName": "ip network", "handle": "NET-8-8-8-0-2",
  "startAddress": "8.8.8.0", "endAddress": "8.8.8.255", "ipVersion": "v4",
  "name": "GOGL", "type": "DIRECT ALLOCATION", "country": "US",
  "cidr0_cidrs": [{"v4prefix": "8.8.8.0", "length": 24}],
  "remarks": [{"title": "description", "description": ["Google's resolver"]}],
  "entities": [{
    "objectClassName": "entity", "handle": "GOGL", "roles": ["registrant"],
    "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Google LLC"]]],
    "entities": [{
      "objectClassName": "entity", "handle": "ABUSE5250-ARIN", "roles": ["abuse"],
      "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Abuse"],
        ["email", {}, "text", "network-abuse@google.com"]]]
    }]
  }]
}"#;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

#[test]
fn parses_every_field() {
    let info = parse_ip_network(ARIN_LIKE.as_bytes()).expect("valid answer");
    assert_eq!(info.network.as_deref(), Some("GOGL"));
    assert_eq!(info.cidr.as_deref(), Some("8.8.8.0/24"));
    assert_eq!(info.org.as_deref(), Some("Google LLC"));
    assert_eq!(info.country.as_deref(), Some("US"));
    assert_eq!(info.abuse.as_deref(), Some("network-abuse@google.com"));
}

#[test]
fn falls_back_to_range_and_description() {
    let body = r#"{"name": "EXAMPLE-NET", "startAddress": "193.0.0.0",
        "endAddress": "193.0.7.255", "remarks": [{"description": ["", "  Example B.V.\u0007 "]}],
        "entities": [{"roles": ["technical"], "vcardArray": ["vcard", [["fn", {}, "text", "Tech"]]]}]}"#;
    let info = parse_ip_network(body.as_bytes()).expect("valid answer");
    assert_eq!(info.cidr.as_deref(), Some("193.0.0.0/21"));
    assert_eq!(info.org.as_deref(), Some("Example B.V."));
    assert_eq!(info.abuse, None);
    assert_eq!(info.country, None);
    let odd = r#"{"startAddress": "10.0.0.1", "endAddress": "10.0.0.2"}"#;
    let info = parse_ip_network(odd.as_bytes()).expect("valid answer");
    assert_eq!(info.cidr.as_deref(), Some("10.0.0.1 - 10.0.0.2"));
}

#[test]
fn country_is_two_letters_or_nothing() {
    let country = |value: &str| {
        let body = serde_json::json!({ "name": "N", "country": value }).to_string();
        parse_ip_network(body.as_bytes()).expect("valid").country
    };
    assert_eq!(country("US").as_deref(), Some("US"));
    assert_eq!(country(" nl ").as_deref(), Some("NL"));
    for raw in [
        "USA",
        "U",
        "",
        "E1",
        "\u{1b}[31mUS",
        "Ü S",
        "ＵＳ",
        "U\u{200b}S",
    ] {
        assert_eq!(country(raw), None, "{raw:?}");
    }
    // Legacy whois: the same rule; a RIPE remark after the code is not part of it.
    let (info, _) = legacy::parse_answer("netname: X\ncountry: eu # Country is world wide\n");
    assert_eq!(info.and_then(|i| i.country).as_deref(), Some("EU"));
    let (info, _) = legacy::parse_answer("netname: X\ncountry: Netherlands\n");
    assert_eq!(info.and_then(|i| i.country), None);
}

#[test]
fn lasting_failures_are_the_ones_remembered() {
    for lasting in [
        WhoisError::NoRegistry,
        WhoisError::Status(404),
        WhoisError::BadAnswer("x".into()),
        WhoisError::Timeout,
        WhoisError::TooLarge,
        WhoisError::TooManyRedirects,
        WhoisError::BadRedirect,
    ] {
        assert!(lasting.is_lasting(), "{lasting:?}");
    }
    for passing in [
        WhoisError::RateLimited {
            retry_after: Some(5),
        },
        WhoisError::Transport("refused".into()),
        WhoisError::NotPublic,
    ] {
        assert!(!passing.is_lasting(), "{passing:?}");
    }
}

#[test]
fn hostile_answers_are_errors_or_capped() {
    for bad in [&b"not json"[..], b"", b"[1,2]", b"\"str\"", b"{\"name\": "] {
        assert!(
            matches!(parse_ip_network(bad), Err(WhoisError::BadAnswer(_))),
            "{bad:?}"
        );
    }
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_ip_network(deep.as_bytes()).is_err());
    let deep_entities = format!(
        r#"{{"name": "X", "entities": [{}]}}"#,
        r#"{"roles": [], "entities": ["#.repeat(60) + &"]}".repeat(60)
    );
    let info = parse_ip_network(deep_entities.as_bytes()).expect("valid if deep");
    assert_eq!(info.network.as_deref(), Some("X"));
    let huge = format!(r#"{{"name": "{}", "country": 7}}"#, "é".repeat(100_000));
    let info = parse_ip_network(huge.as_bytes()).expect("valid answer");
    assert_eq!(info.network.map(|n| n.chars().count()), Some(MAX_FIELD));
    assert_eq!(info.country, None);
}

#[test]
fn bootstrap_longest_prefix_and_builtin() {
    let mut b = Bootstrap::default();
    let v4 = r#"{"version": "1.0", "services": [
        [["41.0.0.0/8"], ["http://wide.example/rdap", "https://wide.example/rdap/"]],
        [["41.1.0.0/16", "bogus"], ["http://narrow.example/"]],
        ["malformed"], [[], []]]}"#;
    b.add_json(v4.as_bytes()).expect("valid bootstrap");
    assert_eq!(
        b.base_for(ip("41.2.3.4")),
        Some("https://wide.example/rdap/")
    );
    assert_eq!(b.base_for(ip("41.1.3.4")), Some("http://narrow.example/"));
    assert_eq!(
        b.base_for(ip("::ffff:41.1.3.4")),
        Some("http://narrow.example/")
    );
    assert_eq!(b.base_for(ip("42.1.3.4")), None);
    assert!(b.add_json(b"{\"services\": []}").is_err());
    assert!(b.add_json(b"nope").is_err());

    let builtin = Bootstrap::builtin();
    assert_eq!(
        builtin.base_for(ip("8.8.8.8")),
        Some("https://rdap.arin.net/registry/")
    );
    assert_eq!(
        builtin.base_for(ip("193.0.6.139")),
        Some("https://rdap.db.ripe.net/")
    );
    assert_eq!(
        builtin.base_for(ip("1.1.1.1")),
        Some("https://rdap.apnic.net/")
    );
    assert_eq!(
        builtin.base_for(ip("200.3.14.10")),
        Some("https://rdap.lacnic.net/rdap/")
    );
    assert_eq!(
        builtin.base_for(ip("196.216.2.1")),
        Some("https://rdap.afrinic.net/rdap/")
    );
    assert_eq!(
        builtin.base_for(ip("2a00:1450::1")),
        Some("https://rdap.db.ripe.net/")
    );
    assert_eq!(
        builtin.base_for(ip("2c0f:f000::1")),
        Some("https://rdap.afrinic.net/rdap/")
    );
}

#[test]
fn builtin_knows_the_registry_of_well_known_addresses() {
    let b = Bootstrap::builtin();
    let want = [
        ("8.8.8.8", "https://rdap.arin.net/registry/"),
        ("1.1.1.1", "https://rdap.apnic.net/"),
        ("193.0.6.139", "https://rdap.db.ripe.net/"),
        ("200.160.2.3", "https://rdap.lacnic.net/rdap/"),
        ("196.216.2.1", "https://rdap.afrinic.net/rdap/"),
        ("2001:4860::8888", "https://rdap.arin.net/registry/"),
        ("2a00:1450::1", "https://rdap.db.ripe.net/"),
        ("2400:cb00::1", "https://rdap.apnic.net/"),
        ("2800:3f0::1", "https://rdap.lacnic.net/rdap/"),
        ("2c0f:fb50::1", "https://rdap.afrinic.net/rdap/"),
        ("2001:67c:2e8::1", "https://rdap.db.ripe.net/"),
        ("2001:200::1", "https://rdap.apnic.net/"),
        ("2003:de::1", "https://rdap.db.ripe.net/"),
        ("2620:fe::fe", "https://rdap.arin.net/registry/"),
        // Legacy /8s: ARIN's unless another registry administers them.
        ("17.253.144.10", "https://rdap.arin.net/registry/"),
        ("25.1.2.3", "https://rdap.db.ripe.net/"),
        ("133.1.2.3", "https://rdap.apnic.net/"),
        ("::ffff:41.1.2.3", "https://rdap.afrinic.net/rdap/"),
    ];
    for (addr, base) in want {
        assert_eq!(b.base_for(ip(addr)), Some(base), "{addr}");
    }
    assert_eq!(b.base_for(ip("fd00::1")), None, "unique local");
    assert_eq!(b.base_for(ip("10.1.2.3")), None, "private");
}

#[test]
fn builtin_covers_every_public_ipv4_slash_8_once() {
    let b = Bootstrap::builtin();
    let mut seen = [0u8; 256];
    for (net, _) in b.entries() {
        if let ipnet::IpNet::V4(n) = net {
            assert_eq!(n.prefix_len(), 8, "{n}");
            seen[usize::from(n.network().octets()[0])] += 1;
        }
    }
    for a in 0..=255u8 {
        // Any address of the /8 that is public must have a registry.
        let public = [[a, 1, 2, 3], [a, 200, 2, 3]]
            .into_iter()
            .any(|o| crate::net::is_public(IpAddr::from(o)));
        let want = u8::from(public);
        assert_eq!(
            seen[usize::from(a)],
            want,
            "{a}/8 listed {} times",
            seen[usize::from(a)]
        );
        if public {
            assert!(b.base_for(IpAddr::from([a, 1, 2, 3])).is_some(), "{a}/8");
        }
    }
}

#[test]
fn redirect_targets() {
    let cur = "https://rdap.example:8443/rdap/ip/1.2.3.4";
    assert_eq!(
        next_url(cur, "https://other/x").as_deref(),
        Ok("https://other/x")
    );
    assert_eq!(
        next_url(cur, "/y/ip/1").as_deref(),
        Ok("https://rdap.example:8443/y/ip/1")
    );
    assert_eq!(
        next_url(cur, "http://other/x"),
        Err(WhoisError::BadRedirect)
    );
    assert_eq!(next_url(cur, "//other/x"), Err(WhoisError::BadRedirect));
    assert_eq!(next_url(cur, "ftp://other/x"), Err(WhoisError::BadRedirect));
    assert_eq!(
        next_url("http://a/b", "http://c/d").as_deref(),
        Ok("http://c/d")
    );
    assert_eq!(
        next_url("http://a/b", "https://c/d").as_deref(),
        Ok("https://c/d")
    );
}

#[test]
fn urgent_requests_go_first_in_order() {
    let mut q = super::worker::Queue::default();
    for (last, urgent) in [(1, false), (2, true), (3, false), (4, true)] {
        q.push(Request {
            ip: IpAddr::from([9, 9, 9, last]),
            urgent,
        });
    }
    assert_eq!(q.len(), 4);
    let order: Vec<IpAddr> = std::iter::from_fn(|| q.pop()).collect();
    let want: Vec<IpAddr> = [2, 4, 1, 3].map(|l| IpAddr::from([9, 9, 9, l])).to_vec();
    assert_eq!(order, want);
}

#[test]
fn lacnic_is_spaced_more() {
    let c = test_config();
    assert_eq!(
        c.spacing_for("https://rdap.lacnic.net/rdap/"),
        Duration::from_secs(6)
    );
    assert_eq!(c.spacing_for("https://rdap.db.ripe.net/"), Duration::ZERO);
}

// ---- loopback server ----

/// What the fake server does for one request path.
enum Answer {
    /// A complete HTTP response.
    Raw(String),
    /// 200 with a body of this many bytes, written until the client hangs up.
    Huge(usize),
    /// Accept and say nothing.
    Hang,
    /// Headers promising 1000 bytes, then one byte every 200 ms.
    Trickle,
}

type Handler = Arc<dyn Fn(&str, u16) -> Answer + Send + Sync>;

/// Serves `handler` on 127.0.0.1 (one thread per connection); returns the port.
fn serve(handler: Handler) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let handler = Arc::clone(&handler);
            thread::spawn(move || answer(conn, &*handler, port));
        }
    });
    port
}

fn answer(conn: TcpStream, handler: &(dyn Fn(&str, u16) -> Answer + Send + Sync), port: u16) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&conn);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
            break;
        }
    }
    let mut out = &conn;
    match handler(&path, port) {
        Answer::Raw(resp) => {
            let _ = out.write_all(resp.as_bytes());
        }
        Answer::Huge(n) => {
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n");
            let _ = out.write_all(head.as_bytes());
            let chunk = vec![b'x'; 64 * 1024];
            let mut sent = 0;
            while sent < n && out.write_all(&chunk).is_ok() {
                sent += chunk.len();
            }
        }
        Answer::Hang => thread::sleep(Duration::from_secs(20)),
        Answer::Trickle => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{";
            let _ = out.write_all(head.as_bytes());
            for _ in 0..100 {
                thread::sleep(Duration::from_millis(200));
                if out.write_all(b" ").is_err() {
                    break;
                }
            }
        }
    }
}

fn ok(body: &str) -> Answer {
    Answer::Raw(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/rdap+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
}

fn redirect(to: &str) -> Answer {
    Answer::Raw(format!(
        "HTTP/1.1 301 Moved\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ))
}

fn test_config() -> Config {
    Config {
        bootstrap_url: None,
        request_timeout: Duration::from_secs(5),
        deadline: Duration::from_secs(1),
        spacing: Duration::ZERO,
        whois_server: None,
        ..Config::default()
    }
}

/// A client sending every IPv4 address to `http://127.0.0.1:port/rdap/`.
fn client_for(port: u16) -> Client {
    Client::new(test_config(), client_bootstrap(port))
}

/// `lookup` on another thread, with a generous outer timeout so a hang fails the test.
fn lookup_within(client: Client, addr: &str) -> Result<WhoisInfo, WhoisError> {
    let addr = ip(addr);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(lookup(addr, &client));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("lookup hung")
}

#[test]
fn lookup_normal_answer_and_redirect() {
    let port = serve(Arc::new(|path, port| match path {
        "/rdap/ip/8.8.8.8" => ok(ARIN_LIKE),
        "/rdap/ip/9.9.9.9" => redirect(&format!("http://127.0.0.1:{port}/other/ip/9.9.9.9")),
        "/other/ip/9.9.9.9" => redirect("/final/ip/9.9.9.9"),
        "/final/ip/9.9.9.9" => ok(r#"{"name": "QUAD9", "country": "CH"}"#),
        _ => Answer::Raw("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into()),
    }));
    let info = lookup_within(client_for(port), "8.8.8.8").expect("answer");
    assert_eq!(info, parse_ip_network(ARIN_LIKE.as_bytes()).expect("valid"));
    let info = lookup_within(client_for(port), "9.9.9.9").expect("answer after redirects");
    assert_eq!(info.network.as_deref(), Some("QUAD9"));
    assert_eq!(info.country.as_deref(), Some("CH"));
    assert_eq!(
        lookup_within(client_for(port), "4.4.4.4"),
        Err(WhoisError::Status(404))
    );
}

#[test]
fn lookup_refuses_private_and_unrouted() {
    // Port 9 (discard) on loopback: nothing must connect for these anyway.
    let client = client_for(9);
    assert_eq!(
        lookup(ip("192.168.1.1"), &client),
        Err(WhoisError::NotPublic)
    );
    assert_eq!(lookup(ip("127.0.0.1"), &client), Err(WhoisError::NotPublic));
    assert_eq!(lookup(ip("2a00::1"), &client), Err(WhoisError::NoRegistry));
}

#[test]
fn lookup_hostile_servers() {
    let port = serve(Arc::new(|path, port| match path {
        "/rdap/ip/1.0.0.1" => redirect(&format!("http://127.0.0.1:{port}/rdap/ip/1.0.0.1")),
        "/rdap/ip/1.0.0.2" => ok("{\"name\": oops"),
        "/rdap/ip/1.0.0.3" => Answer::Huge(10 << 20),
        "/rdap/ip/1.0.0.4" => Answer::Raw(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 42\r\nContent-Length: 0\r\n\r\n".into(),
        ),
        "/rdap/ip/1.0.0.5" => Answer::Raw(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: soon\r\nContent-Length: 0\r\n\r\n"
                .into(),
        ),
        "/rdap/ip/1.0.0.6" => redirect("elsewhere"),
        "/rdap/ip/1.0.0.8" => Answer::Trickle,
        _ => Answer::Hang,
    }));
    let run = |a| lookup_within(client_for(port), a);
    assert_eq!(run("1.0.0.1"), Err(WhoisError::TooManyRedirects));
    assert!(matches!(run("1.0.0.2"), Err(WhoisError::BadAnswer(_))));
    assert_eq!(run("1.0.0.3"), Err(WhoisError::TooLarge));
    assert_eq!(
        run("1.0.0.4"),
        Err(WhoisError::RateLimited {
            retry_after: Some(42)
        })
    );
    assert_eq!(
        run("1.0.0.5"),
        Err(WhoisError::RateLimited { retry_after: None })
    );
    assert_eq!(run("1.0.0.6"), Err(WhoisError::BadRedirect));
    assert_eq!(run("1.0.0.7"), Err(WhoisError::Timeout));
    assert_eq!(run("1.0.0.8"), Err(WhoisError::Timeout));
    // The request's own timeout catching a hang, well before the deadline (as
    // with the defaults, 10 s in 20 s): still a timeout, not a transport fault.
    let config = Config {
        request_timeout: Duration::from_millis(500),
        deadline: Duration::from_secs(20),
        ..test_config()
    };
    let short = Client::new(config, client_bootstrap(port));
    assert_eq!(lookup_within(short, "1.0.0.7"), Err(WhoisError::Timeout));
}

#[test]
fn worker_end_to_end_with_fresh_bootstrap() {
    let port = serve(Arc::new(|path, port| match path {
        "/iana/ipv4.json" => ok(&format!(
            r#"{{"services": [[["1.0.0.0/8", "8.0.0.0/8"], ["http://127.0.0.1:{port}/rdap/"]]]}}"#
        )),
        "/iana/ipv6.json" => ok(r#"{"services": [[["2001:db8::/32"], ["https://x.example/"]]]}"#),
        "/rdap/ip/8.8.8.8" => ok(ARIN_LIKE),
        "/rdap/ip/1.1.1.1" => ok(r#"{"name": "APNIC-LABS", "country": "AU"}"#),
        _ => Answer::Raw("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into()),
    }));
    let mut poll = mio::Poll::new().expect("poll");
    let waker = mio::Waker::new(poll.registry(), mio::Token(7)).expect("waker");
    let config = Config {
        bootstrap_url: Some(format!("http://127.0.0.1:{port}/iana/")),
        ..test_config()
    };
    let mut worker = Worker::spawn(config, waker).expect("spawn");
    assert_eq!(worker.request(ip("8.8.8.8"), false), Submit::Queued);
    assert_eq!(worker.request(ip("1.1.1.1"), true), Submit::Queued);
    assert_eq!(worker.request(ip("8.8.8.8"), true), Submit::Pending);
    assert_eq!(worker.request(ip("10.0.0.1"), true), Submit::NotPublic);
    assert_eq!(worker.pending(), 2);

    let mut replies = Vec::new();
    let mut events = mio::Events::with_capacity(4);
    let give_up = std::time::Instant::now() + Duration::from_secs(60);
    while replies.len() < 2 && std::time::Instant::now() < give_up {
        poll.poll(&mut events, Some(Duration::from_secs(1)))
            .expect("poll");
        if events.iter().any(|e| e.token() == mio::Token(7)) {
            while let Some(r) = worker.try_recv() {
                replies.push(r);
            }
        }
    }
    replies.sort_by_key(|r| r.0);
    assert_eq!(replies.len(), 2, "both replies arrive through the waker");
    assert_eq!(replies[0].0, ip("1.1.1.1"));
    let apnic = replies[0].1.as_ref().expect("1.1.1.1 answered");
    assert_eq!(apnic.network.as_deref(), Some("APNIC-LABS"));
    assert_eq!(replies[1].0, ip("8.8.8.8"));
    let google = replies[1].1.as_ref().expect("8.8.8.8 answered");
    assert_eq!(google.abuse.as_deref(), Some("network-abuse@google.com"));
    assert_eq!(worker.pending(), 0);
    // Once answered, the address may be asked again.
    assert_eq!(worker.request(ip("8.8.8.8"), false), Submit::Queued);
}

#[test]
fn worker_full_queue_drops_without_blocking() {
    // The bootstrap sends every address to the server, which then never answers:
    // the built-in copy (real registries) is never used.
    let port = serve(Arc::new(|path, port| match path {
        "/ipv4.json" | "/ipv6.json" => ok(&format!(
            r#"{{"services": [[["0.0.0.0/0", "::/0"], ["http://127.0.0.1:{port}/rdap/"]]]}}"#
        )),
        _ => Answer::Hang,
    }));
    let mut poll = mio::Poll::new().expect("poll");
    let waker = mio::Waker::new(poll.registry(), mio::Token(1)).expect("waker");
    let config = Config {
        bootstrap_url: Some(format!("http://127.0.0.1:{port}/")),
        queue: 1,
        ..test_config()
    };
    let mut worker = Worker::spawn(config, waker).expect("spawn");
    let results: Vec<Submit> = (1..=8u8)
        .map(|i| worker.request(IpAddr::from([6, 6, 6, i]), false))
        .collect();
    // The worker holds at most one in hand, one in its queue and one in the channel.
    assert!(results.contains(&Submit::Full), "{results:?}");
    assert_eq!(results[0], Submit::Queued);
    let _ = poll.poll(&mut mio::Events::with_capacity(1), Some(Duration::ZERO));
}

/// Replies from `worker`, taken when its waker fires, until `want` have come or `limit`
/// has passed (a bound on a broken run, not a timing assertion).
fn replies_within(
    poll: &mut mio::Poll,
    worker: &mut Worker,
    want: usize,
    limit: Duration,
) -> Vec<Reply> {
    let mut replies = Vec::new();
    let mut events = mio::Events::with_capacity(4);
    let give_up = std::time::Instant::now() + limit;
    while replies.len() < want && std::time::Instant::now() < give_up {
        poll.poll(&mut events, Some(Duration::from_millis(200)))
            .expect("poll");
        while let Some(r) = worker.try_recv() {
            replies.push(r);
        }
    }
    replies
}

/// Asks about 5.5.5.1 to 5.5.5.6 in turn; while the channel is full, takes one
/// reply (returned) to make room.
fn request_5_5_5_1_to_6(poll: &mut mio::Poll, worker: &mut Worker) -> Vec<Reply> {
    let mut replies = Vec::new();
    for last in 1..=6u8 {
        let addr = IpAddr::from([5, 5, 5, last]);
        while worker.request(addr, false) == Submit::Full {
            replies.extend(replies_within(poll, worker, 1, Duration::from_secs(5)));
        }
    }
    replies
}

#[test]
fn one_registrys_rate_limit_does_not_stall_the_others() {
    // 1.0.0.0/8's registry answers 429 for ten minutes; 8.0.0.0/8's answers.
    let limited = serve(Arc::new(|_, _| {
        Answer::Raw(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 600\r\nContent-Length: 0\r\n\r\n"
                .into(),
        )
    }));
    let open = serve(Arc::new(move |path, port| match path {
        "/ipv4.json" => ok(&format!(
            r#"{{"services": [[["1.0.0.0/8"], ["http://127.0.0.1:{limited}/rdap/"]],
                              [["8.0.0.0/8"], ["http://127.0.0.1:{port}/rdap/"]]]}}"#
        )),
        "/rdap/ip/8.8.8.8" => ok(ARIN_LIKE),
        "/rdap/ip/8.8.4.4" => ok(r#"{"name": "GOGL-2", "country": "US"}"#),
        _ => Answer::Raw("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into()),
    }));
    let mut poll = mio::Poll::new().expect("poll");
    let waker = mio::Waker::new(poll.registry(), mio::Token(3)).expect("waker");
    let config = Config {
        bootstrap_url: Some(format!("http://127.0.0.1:{open}/")),
        ..test_config()
    };
    let mut worker = Worker::spawn(config, waker).expect("spawn");
    for addr in ["1.0.0.1", "1.0.0.2", "1.0.0.3", "8.8.8.8", "8.8.4.4"] {
        assert_eq!(worker.request(ip(addr), false), Submit::Queued, "{addr}");
    }
    let mut replies = replies_within(&mut poll, &mut worker, 3, Duration::from_secs(30));
    replies.sort_by_key(|r| r.0);
    let got: Vec<IpAddr> = replies.iter().map(|r| r.0).collect();
    assert_eq!(
        got,
        [ip("1.0.0.1"), ip("8.8.4.4"), ip("8.8.8.8")],
        "the other registry's addresses are answered while 1.0.0.2 and 1.0.0.3 wait"
    );
    assert_eq!(
        replies[0].1,
        Err(WhoisError::RateLimited {
            retry_after: Some(600)
        })
    );
    assert_eq!(
        replies[1].1.as_ref().expect("8.8.4.4").network.as_deref(),
        Some("GOGL-2")
    );
    assert_eq!(worker.pending(), 2, "the limited registry's two still wait");
}

#[test]
fn a_full_set_aside_answers_rate_limited_without_asking() {
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&asked);
    let port = serve(Arc::new(move |path, port| match path {
        "/ipv4.json" => ok(&format!(
            r#"{{"services": [[["0.0.0.0/0"], ["http://127.0.0.1:{port}/rdap/"]]]}}"#
        )),
        "/ipv6.json" => Answer::Raw("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into()),
        _ => {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Answer::Raw(
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 600\r\nContent-Length: 0\r\n\r\n"
                    .into(),
            )
        }
    }));
    let mut poll = mio::Poll::new().expect("poll");
    let waker = mio::Waker::new(poll.registry(), mio::Token(4)).expect("waker");
    let config = Config {
        bootstrap_url: Some(format!("http://127.0.0.1:{port}/")),
        queue: 2,
        ..test_config()
    };
    let mut worker = Worker::spawn(config, waker).expect("spawn");
    // One is asked (429), two are set aside; the rest are answered at once. The
    // channel holds two, so send a few at a time.
    let mut replies = request_5_5_5_1_to_6(&mut poll, &mut worker);
    replies.extend(replies_within(
        &mut poll,
        &mut worker,
        4 - replies.len(),
        Duration::from_secs(30),
    ));
    assert_eq!(replies.len(), 4, "{replies:?}");
    for (addr, reply) in &replies {
        assert!(
            matches!(reply, Err(WhoisError::RateLimited { retry_after: Some(s) }) if *s > 500),
            "{addr}: {reply:?}"
        );
    }
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(worker.pending(), 2);
}

#[test]
fn a_backlog_behind_mere_spacing_is_answered_not_refused() {
    let port = serve(Arc::new(|path, port| match path {
        "/ipv4.json" => ok(&format!(
            r#"{{"services": [[["0.0.0.0/0"], ["http://127.0.0.1:{port}/rdap/"]]]}}"#
        )),
        "/ipv6.json" => Answer::Raw("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into()),
        _ => ok(r#"{"name": "SPACED"}"#),
    }));
    let mut poll = mio::Poll::new().expect("poll");
    let waker = mio::Waker::new(poll.registry(), mio::Token(5)).expect("waker");
    let config = Config {
        bootstrap_url: Some(format!("http://127.0.0.1:{port}/")),
        queue: 2,
        spacing: Duration::from_millis(200),
        ..test_config()
    };
    let mut worker = Worker::spawn(config, waker).expect("spawn");
    let mut replies = request_5_5_5_1_to_6(&mut poll, &mut worker);
    let left = 6 - replies.len();
    replies.extend(replies_within(
        &mut poll,
        &mut worker,
        left,
        Duration::from_secs(30),
    ));
    assert_eq!(replies.len(), 6, "{replies:?}");
    for (addr, reply) in &replies {
        let info = reply.as_ref().unwrap_or_else(|e| panic!("{addr}: {e}"));
        assert_eq!(info.network.as_deref(), Some("SPACED"));
    }
}

#[test]
fn refresh_keeps_the_builtin_for_an_unusable_file() {
    let port = serve(Arc::new(|path, port| match path {
        "/good/ipv4.json" | "/half/ipv4.json" => ok(&format!(
            r#"{{"services": [[["45.0.0.0/8"], ["http://127.0.0.1:{port}/rdap/"]]]}}"#
        )),
        "/half/ipv6.json" => ok(r#"{"services": [[["2001:db8::/32"], ["ftp://nope/"]]]}"#),
        "/good/ipv6.json" => ok(r#"{"services": [[["2a00::/12"], ["https://v6.example/"]]]}"#),
        "/bad/ipv4.json" => ok("{\"services\": []}"),
        "/bad/ipv6.json" => ok("<html>"),
        _ => Answer::Raw("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into()),
    }));
    let config = |folder: &str| Config {
        bootstrap_url: Some(format!("http://127.0.0.1:{port}/{folder}/")),
        ..test_config()
    };
    let mut client = Client::new(config("half"), Bootstrap::builtin());
    let stored = client.refresh_bootstrap(1000).expect("ipv4.json is usable");
    let stored = stored.expect("a URL is configured");
    assert!(stored.ipv4.is_some() && stored.ipv6.is_none(), "{stored:?}");
    assert_eq!(stored.fetched_at, 1000);
    let fake = format!("http://127.0.0.1:{port}/rdap/");
    assert_eq!(client.registry_for(ip("45.1.2.3")), Some(fake.as_str()));
    // What the fetched files lack, the built-in copy answers.
    assert_eq!(
        client.registry_for(ip("8.8.8.8")),
        Some("https://rdap.arin.net/registry/")
    );
    assert_eq!(
        client.registry_for(ip("2a00:1450::1")),
        Some("https://rdap.db.ripe.net/")
    );

    // Fetched prefixes win over the built-in ones they repeat.
    let mut client = Client::new(config("good"), Bootstrap::builtin());
    assert!(client.refresh_bootstrap(1000).is_ok());
    assert_eq!(
        client.registry_for(ip("2a00:1450::1")),
        Some("https://v6.example/")
    );

    // Neither file usable (or none there): an error, and the current copy stays.
    for folder in ["bad", "missing"] {
        let mut client = Client::new(config(folder), client_bootstrap(port));
        assert!(client.refresh_bootstrap(1000).is_err(), "{folder}");
        assert_eq!(client.registry_for(ip("9.9.9.9")), Some(fake.as_str()));
    }
}

/// Every IPv4 address to `http://127.0.0.1:port/rdap/`.
fn client_bootstrap(port: u16) -> Bootstrap {
    let mut b = Bootstrap::default();
    let v4 = format!(r#"{{"services": [[["0.0.0.0/0"], ["http://127.0.0.1:{port}/rdap/"]]]}}"#);
    b.add_json(v4.as_bytes()).expect("test bootstrap");
    b
}

#[test]
fn stored_bootstrap_round_trip_and_freshness() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("cache/nethergaze");
    let stored = cache::StoredBootstrap {
        url: "http://x/".to_owned(),
        fetched_at: 1_000_000,
        ipv4: Some(r#"{"services": [[["45.0.0.0/8"], ["http://x/rdap/"]]]}"#.to_owned()),
        ipv6: None,
    };
    cache::save(&dir, &stored).expect("save");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(cache::FILE_NAME)), 0o600);
    let day = 24 * 3600;
    assert_eq!(
        cache::load(&dir, "http://x/", 1_000_000 + 6 * day),
        Some(stored.clone())
    );
    assert_eq!(
        cache::load(&dir, "http://x/", 1_000_000 + 7 * day),
        None,
        "stale"
    );
    assert_eq!(
        cache::load(&dir, "http://x/", 999_000),
        None,
        "from the future"
    );
    assert_eq!(cache::load(&dir, "http://y/", 1_000_000), None, "other URL");
    let b = Bootstrap::from_stored(&stored);
    assert_eq!(b.base_for(ip("45.1.1.1")), Some("http://x/rdap/"));
    assert_eq!(
        b.base_for(ip("2400:cb00::1")),
        Some("https://rdap.apnic.net/")
    );
    // The built-in copy is beneath, not beside: its /8 doesn't beat a fetched /0.
    let everything = cache::StoredBootstrap {
        ipv4: Some(r#"{"services": [[["0.0.0.0/0"], ["http://x/all/"]]]}"#.to_owned()),
        ..stored.clone()
    };
    let b = Bootstrap::from_stored(&everything);
    assert_eq!(b.base_for(ip("8.8.8.8")), Some("http://x/all/"));
    assert_eq!(b.base_for(ip("2a00::1")), Some("https://rdap.db.ripe.net/"));
    // Overwriting works (rename over the old file); a corrupt file is no copy.
    cache::save(&dir, &stored).expect("save again");
    std::fs::write(dir.join(cache::FILE_NAME), b"{\"url\": 3").expect("corrupt");
    assert_eq!(cache::load(&dir, "http://x/", 1_000_000), None);
    let leftovers = std::fs::read_dir(&dir).expect("list").count();
    assert_eq!(leftovers, 1, "no temporary file left behind");
}

/// The stored copy routes every lookup, so only a file we could have written
/// counts: not a link, not a FIFO (which would block the worker in `open`),
/// not another user's file, not in a folder every user may write in.
#[test]
fn stored_bootstrap_is_used_only_from_a_private_regular_file() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("cache");
    let stored = cache::StoredBootstrap {
        url: "http://x/".to_owned(),
        fetched_at: 1_000_000,
        ipv4: None,
        ipv6: None,
    };
    cache::save(&dir, &stored).expect("save");
    let file = dir.join(cache::FILE_NAME);
    let load = || cache::load(&dir, "http://x/", 1_000_000);
    assert_eq!(load(), Some(stored.clone()));
    // A link to a good copy elsewhere is not followed.
    let elsewhere = tmp.path().join("elsewhere.json");
    std::fs::rename(&file, &elsewhere).expect("rename");
    std::os::unix::fs::symlink(&elsewhere, &file).expect("symlink");
    assert_eq!(load(), None, "a link");
    // Saving replaces the link itself; its target keeps its content and mode.
    let before = std::fs::read(&elsewhere).expect("read");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    cache::save(&dir, &stored).expect("save over a link");
    assert!(std::fs::symlink_metadata(&file).expect("stat").is_file());
    assert_eq!(std::fs::read(&elsewhere).expect("read"), before);
    let mode = std::fs::metadata(&elsewhere)
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    // Another user's file.
    std::os::unix::fs::chown(&file, Some(65534), None).expect("chown");
    assert_eq!(load(), None, "not ours");
    // A FIFO: refused without blocking.
    std::fs::remove_file(&file).expect("rm");
    crate::sys::file::mkfifo(&file, 0o600).expect("mkfifo");
    assert_eq!(load(), None, "a FIFO");
    std::fs::remove_file(&file).expect("rm");
    // A folder every user may write in: neither read nor written.
    cache::save(&dir, &stored).expect("save");
    for folder_mode in [0o777, 0o1777] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(folder_mode))
            .expect("chmod");
        assert_eq!(load(), None, "mode {folder_mode:o}");
        assert!(cache::save(&dir, &stored).is_err(), "mode {folder_mode:o}");
    }
}

/// A port-43 stand-in answering every connection with `answer`; counts connections.
fn fake_whois(answer: &'static str) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("addr").to_string();
    let conns = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&conns);
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut line = String::new();
            let _ = BufReader::new(&conn).read_line(&mut line);
            let _ = (&conn).write_all(answer.as_bytes());
        }
    });
    (addr, conns)
}

#[test]
fn legacy_whois_answers_when_rdap_fails() {
    use std::sync::atomic::Ordering;
    let port = serve(Arc::new(|path, _| match path {
        "/rdap/ip/1.0.0.4" => Answer::Raw(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 42\r\nContent-Length: 0\r\n\r\n".into(),
        ),
        "/rdap/ip/1.0.0.2" => ok("{\"name\": oops"),
        "/rdap/ip/1.0.0.1" => ok(r#"{"name": "FROM-RDAP"}"#),
        _ => Answer::Raw("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into()),
    }));
    let (whois, conns) = fake_whois("netname: FROM-WHOIS\ncountry: AU\n");
    let client = |server: Option<&str>| {
        let config = Config {
            whois_server: server.map(str::to_owned),
            ..test_config()
        };
        Client::new(config, client_bootstrap(port))
    };
    let from = |addr| lookup_within(client(Some(&whois)), addr).map(|i| i.network);
    assert_eq!(from("1.0.0.1"), Ok(Some("FROM-RDAP".into())));
    assert_eq!(conns.load(Ordering::SeqCst), 0, "RDAP answered: no whois");
    assert_eq!(
        from("1.0.0.3"),
        Ok(Some("FROM-WHOIS".into())),
        "after a 404"
    );
    assert_eq!(
        from("1.0.0.2"),
        Ok(Some("FROM-WHOIS".into())),
        "after bad JSON"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    // The registry asked us to slow down: its whois server is not asked instead.
    assert_eq!(
        from("1.0.0.4"),
        Err(WhoisError::RateLimited {
            retry_after: Some(42)
        })
    );
    assert_eq!(from("10.0.0.1"), Err(WhoisError::NotPublic));
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    // No whois server configured: RDAP's error stands.
    assert_eq!(
        lookup_within(client(None), "1.0.0.3"),
        Err(WhoisError::Status(404))
    );
    // Both fail: the error is RDAP's.
    let (mute, _) = fake_whois("% nothing here\n");
    assert_eq!(
        lookup_within(client(Some(&mute)), "1.0.0.3"),
        Err(WhoisError::Status(404))
    );
}
