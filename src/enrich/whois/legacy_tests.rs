//! Legacy whois against fake port-43 servers on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// What a fake server does once it has read the query line.
#[derive(Clone)]
enum Say {
    /// Write this and close.
    Text(Vec<u8>),
    /// Say nothing for a long time.
    Hang,
    /// Write this one byte every 200 ms.
    Trickle(Vec<u8>),
    /// Write this, then `n` bytes of filler until the client hangs up.
    Huge(String, usize),
    /// Write what [`Fake::set`] put here (set after start, once the port is known).
    Later(Arc<Mutex<String>>),
}

/// A fake whois server: its address, connections taken, queries read.
struct Fake {
    addr: String,
    port: u16,
    conns: Arc<AtomicUsize>,
    queries: Arc<Mutex<Vec<String>>>,
    later: Option<Arc<Mutex<String>>>,
}

impl Fake {
    /// The answer of a [`Say::Later`] server.
    fn set(&self, answer: &str) {
        if let Some(later) = &self.later {
            *later.lock().expect("lock") = answer.to_owned();
        }
    }
}

fn fake(say: Say) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let conns = Arc::new(AtomicUsize::new(0));
    let queries = Arc::new(Mutex::new(Vec::new()));
    let (c, q) = (Arc::clone(&conns), Arc::clone(&queries));
    let later = match &say {
        Say::Later(l) => Some(Arc::clone(l)),
        _ => None,
    };
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            let (say, q) = (say.clone(), Arc::clone(&q));
            thread::spawn(move || serve(conn, &say, &q));
        }
    });
    Fake {
        addr: format!("127.0.0.1:{port}"),
        port,
        conns,
        queries,
        later,
    }
}

fn serve(conn: TcpStream, say: &Say, queries: &Mutex<Vec<String>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut line = String::new();
    if BufReader::new(&conn).read_line(&mut line).is_err() {
        return;
    }
    if let Ok(mut q) = queries.lock() {
        q.push(line);
    }
    let mut out = &conn;
    match say {
        Say::Text(bytes) => {
            let _ = out.write_all(bytes);
        }
        Say::Hang => thread::sleep(Duration::from_secs(30)),
        Say::Later(answer) => {
            let answer = answer.lock().map(|a| a.clone()).unwrap_or_default();
            let _ = out.write_all(answer.as_bytes());
        }
        Say::Trickle(bytes) => {
            for b in bytes.iter().cycle().take(1000) {
                thread::sleep(Duration::from_millis(200));
                if out.write_all(&[*b]).is_err() {
                    break;
                }
            }
        }
        Say::Huge(head, n) => {
            let _ = out.write_all(head.as_bytes());
            let filler = vec![b'x'; 64 << 10];
            let mut sent = 0;
            while sent < *n && out.write_all(&filler).is_ok() {
                sent += filler.len();
            }
        }
    }
}

fn text(s: &str) -> Say {
    Say::Text(s.as_bytes().to_vec())
}

/// `lookup` on another thread with a 1 s deadline; a hang fails the test after 30 s.
fn ask(server: &str, addr: &str) -> Result<WhoisInfo, WhoisError> {
    let (server, ip): (String, IpAddr) = (server.to_owned(), addr.parse().expect("address"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(1);
        let _ = tx.send(lookup(ip, &server, deadline, Duration::from_secs(5)));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("legacy lookup hung")
}

const ARIN: &str = "\
#\r\n# ARIN WHOIS data and services are subject to the Terms of Use\r\n#\r\n\r\n\
NetRange:       8.0.0.0 - 8.127.255.255\r\nCIDR:           8.0.0.0/9\r\n\
NetName:        LVLT-ORG-8-8\r\nOrganization:   Level 3 Parent, LLC (LPL-141)\r\n\r\n\
OrgName:        Level 3 Parent, LLC\r\nCountry:        US\r\n\
OrgAbuseEmail:  abuse@level3.com\r\n\r\n\
NetRange:       8.8.8.0 - 8.8.8.255\r\nCIDR:           8.8.8.0/24\r\n\
NetName:        GOGL\r\nParent:         LVLT-ORG-8-8 (NET-8-0-0-0-1)\r\n\r\n\
OrgName:        Google LLC\r\nOrgId:          GOGL\r\nCountry:        US\r\n\r\n\
OrgAbuseHandle: ABUSE5250-ARIN\r\nOrgAbuseEmail:  network-abuse@google.com\r\n";

const RIPE: &str = "\
% This is the RIPE Database query service.\n\
% Abuse contact for '193.0.0.0 - 193.0.7.255' is 'abuse@ripe.net'\n\n\
inetnum:        193.0.0.0 - 193.0.7.255\nnetname:        RIPE-NCC\n\
descr:          RIPE Network Coordination Centre\ndescr:          Amsterdam\n\
country:        NL\norg:            ORG-RIEN1-RIPE\n\n\
organisation:   ORG-RIEN1-RIPE\norg-name:       Reseaux IP Europeens Network Coordination Centre (RIPE NCC)\n\
country:        DE\n\n\
route:          193.0.0.0/21\ndescr:          RIPE-NCC\norigin:         AS3333\n";

#[test]
fn arin_style_answer_reads_the_most_specific_network() {
    let server = fake(text(ARIN));
    let info = ask(&server.addr, "8.8.8.8").expect("answer");
    assert_eq!(info.network.as_deref(), Some("GOGL"));
    assert_eq!(info.cidr.as_deref(), Some("8.8.8.0/24"));
    assert_eq!(info.org.as_deref(), Some("Google LLC"));
    assert_eq!(info.country.as_deref(), Some("US"));
    assert_eq!(info.abuse.as_deref(), Some("network-abuse@google.com"));
    let queries = server.queries.lock().expect("lock").clone();
    assert_eq!(queries, ["8.8.8.8\r\n"]);
    let arin = Server::parse("whois.arin.net").expect("valid");
    assert_eq!(
        arin.query("8.8.8.8".parse().expect("ip")),
        "n + 8.8.8.8\r\n"
    );
}

#[test]
fn ripe_style_answer() {
    let server = fake(text(RIPE));
    let info = ask(&server.addr, "::ffff:193.0.6.139").expect("answer");
    assert_eq!(info.network.as_deref(), Some("RIPE-NCC"));
    assert_eq!(info.cidr.as_deref(), Some("193.0.0.0/21"));
    assert_eq!(
        info.org.as_deref(),
        Some("Reseaux IP Europeens Network Coordination Centre (RIPE NCC)")
    );
    assert_eq!(
        info.country.as_deref(),
        Some("NL"),
        "the network's, not the org's"
    );
    assert_eq!(info.abuse.as_deref(), Some("abuse@ripe.net"));
    assert_eq!(
        server.queries.lock().expect("lock").as_slice(),
        ["193.0.6.139\r\n"],
        "the canonical address is asked"
    );
    // LACNIC: prefix inetnum, owner; no netname still names a network by its CIDR.
    let (info, _) = parse_answer(
        "inetnum:     200.160.0.0/20\nowner:       Nucleo de Inf. e Coord. do Ponto BR\ncountry:     BR\n",
    );
    let info = info.expect("named by its inetnum");
    assert_eq!(info.cidr.as_deref(), Some("200.160.0.0/20"));
    assert_eq!(
        info.org.as_deref(),
        Some("Nucleo de Inf. e Coord. do Ponto BR")
    );
}

#[test]
fn referral_chain_is_followed() {
    let ripe = fake(text(RIPE));
    let arin = fake(text(&format!(
        "NetRange: 193.0.0.0 - 193.255.255.255\nNetName: RIPE-CBLK\n\
         ReferralServer:  whois://127.0.0.1:{}/\n",
        ripe.port
    )));
    let iana = fake(text(&format!(
        "% IANA WHOIS server\nrefer:        127.0.0.1:{}\n\ninetnum: 193.0.0.0 - 193.255.255.255\n\
         organisation: RIPE NCC\nwhois: whois.ripe.net\n",
        arin.port
    )));
    let info = ask(&iana.addr, "193.0.6.139").expect("answer");
    assert_eq!(info.network.as_deref(), Some("RIPE-NCC"));
    for server in [&iana, &arin, &ripe] {
        assert_eq!(server.conns.load(Ordering::SeqCst), 1);
    }

    // A referral that leads nowhere: a data answer stands, a mere pointer doesn't.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let arin = fake(text(&format!(
        "NetRange: 8.8.8.0 - 8.8.8.255\nNetName: GOGL\nReferralServer: whois://127.0.0.1:{closed}\n"
    )));
    assert_eq!(
        ask(&arin.addr, "8.8.8.8")
            .expect("ARIN's own data")
            .network
            .as_deref(),
        Some("GOGL")
    );
    let iana = fake(text(&format!(
        "refer: 127.0.0.1:{closed}\ninetnum: 8.0.0.0 - 8.255.255.255\n"
    )));
    assert!(matches!(
        ask(&iana.addr, "8.8.8.8"),
        Err(WhoisError::Transport(_))
    ));
    // rwhois and other schemes are not followed.
    let rwhois = fake(text(
        "NetName: X\nReferralServer: rwhois://rwhois.example.net:4321\n",
    ));
    assert_eq!(
        ask(&rwhois.addr, "8.8.8.8")
            .expect("own data")
            .network
            .as_deref(),
        Some("X")
    );
}

#[test]
fn referral_loops_and_long_chains_stop() {
    // Five servers, each referring to the next: the first plus three referrals.
    let mut chain: Vec<Fake> = vec![fake(text("netname: LAST\n"))];
    for i in 0..4 {
        let next = chain.last().expect("non-empty").port;
        chain.push(fake(text(&format!(
            "netname: HOP{i}\nReferralServer: whois://127.0.0.1:{next}\n"
        ))));
    }
    chain.reverse(); // chain[0] is asked first
    let info = ask(&chain[0].addr, "8.8.8.8").expect("answer");
    assert_eq!(
        info.network.as_deref(),
        Some("HOP0"),
        "the fourth server's answer"
    );
    let conns: Vec<usize> = chain
        .iter()
        .map(|f| f.conns.load(Ordering::SeqCst))
        .collect();
    assert_eq!(conns, [1, 1, 1, 1, 0]);

    // A server referring to itself, and two referring to each other: each asked once.
    let own = fake(Say::Later(Arc::default()));
    own.set(&format!(
        "netname: SELF\nReferralServer: whois://127.0.0.1:{}\n",
        own.port
    ));
    assert_eq!(
        ask(&own.addr, "8.8.8.8")
            .expect("answer")
            .network
            .as_deref(),
        Some("SELF")
    );
    assert_eq!(own.conns.load(Ordering::SeqCst), 1);
    let a = fake(Say::Later(Arc::default()));
    let b = fake(text(&format!("refer: 127.0.0.1:{}\n", a.port)));
    a.set(&format!("refer: 127.0.0.1:{}\n", b.port));
    assert!(
        matches!(ask(&a.addr, "8.8.8.8"), Err(WhoisError::BadAnswer(_))),
        "pointers only, no data"
    );
    assert_eq!(a.conns.load(Ordering::SeqCst), 1);
    assert_eq!(b.conns.load(Ordering::SeqCst), 1);
}

#[test]
fn silent_and_trickling_servers_hit_the_deadline() {
    let silent = fake(Say::Hang);
    assert_eq!(ask(&silent.addr, "8.8.8.8"), Err(WhoisError::Timeout));
    let trickle = fake(Say::Trickle(b"netname: SLOW\n".to_vec()));
    assert_eq!(ask(&trickle.addr, "8.8.8.8"), Err(WhoisError::Timeout));
}

#[test]
fn huge_answers_are_cut_at_the_cap() {
    let big = fake(Say::Huge(
        "netname: BIG\ninetnum: 1.2.3.0 - 1.2.3.255\n".to_owned(),
        10 << 20,
    ));
    let info = ask(&big.addr, "1.2.3.4").expect("the head is read");
    assert_eq!(info.network.as_deref(), Some("BIG"));
    assert_eq!(info.cidr.as_deref(), Some("1.2.3.0/24"));
    let junk = fake(Say::Huge(String::new(), 10 << 20));
    assert!(matches!(
        ask(&junk.addr, "1.2.3.4"),
        Err(WhoisError::BadAnswer(_))
    ));
    // A field can't make the answer larger than MAX_FIELD characters either.
    let long = format!("netname: {}\n", "N".repeat(MAX_ANSWER));
    let (info, _) = parse_answer(&long);
    assert_eq!(
        info.and_then(|i| i.network).map(|n| n.len()),
        Some(super::super::MAX_FIELD)
    );
}

#[test]
fn hostile_bytes_are_data_not_a_panic() {
    let mut evil = b"netname: \x1b[31mEVIL\x00\x07\r\ncountry: \xff\xfeNL\r\n".to_vec();
    evil.extend_from_slice("descr: \u{202e}txt.exe\u{200b}\n".as_bytes());
    let server = fake(Say::Text(evil));
    let info = ask(&server.addr, "8.8.8.8").expect("answer");
    let network = info.network.expect("network");
    assert!(
        network.contains("EVIL") && !network.contains('\x1b'),
        "{network:?}"
    );
    assert_eq!(info.country, None, "bytes before NL: no country code");
    // Random bytes: anything goes, nothing panics.
    let mut rng = crate::testutil::Rng(43);
    let pieces: [&[u8]; 9] = [
        b"netname:",
        b"NetRange:",
        b" - ",
        b"refer: ",
        b"\n",
        b"%",
        b"\xff",
        b"1.2.3.4",
        b"'",
    ];
    for _ in 0..2000 {
        let mut input = Vec::new();
        for _ in 0..rng.below(20) {
            input.extend_from_slice(rng.pick(&pieces));
        }
        let _ = parse_answer(&String::from_utf8_lossy(&input));
    }
}

#[test]
fn server_names() {
    let parse = |s| Server::parse(s).map(|s| (s.host, s.port));
    assert_eq!(parse("whois.iana.org"), Some(("whois.iana.org".into(), 43)));
    assert_eq!(
        parse("whois://WHOIS.RIPE.NET/"),
        Some(("whois.ripe.net".into(), 43))
    );
    assert_eq!(parse("127.0.0.1:4343"), Some(("127.0.0.1".into(), 4343)));
    assert_eq!(parse("[::1]:4343"), Some(("::1".into(), 4343)));
    assert_eq!(parse("2001:db8::43"), Some(("2001:db8::43".into(), 43)));
    for bad in [
        "",
        "rwhois://x:4321",
        "host:0",
        "host:99999",
        "a b",
        "x;rm -rf",
        "[::1",
    ] {
        assert_eq!(parse(bad), None, "{bad:?}");
    }
}
