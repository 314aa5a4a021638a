//! MMDB files are written by the tests (mmdb-writer) in the shapes GeoLite2
//! and DB-IP Lite ship, plus MaxMind's official test databases and its
//! corrupt and hostile files, vendored in tests/data/maxmind/.

use super::*;
use crate::testutil::Rng;
use mmdb_writer::{IpVersion, Value, Writer};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// MaxMind's test data (README.md there says where from and its licence).
const MAXMIND: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maxmind");

fn names(en: &str) -> Value {
    Value::map([("names", Value::map([("en", Value::from(en))]))])
}

/// A GeoLite2-City / DB-IP City Lite record (extra fields the reader skips).
fn city_rec(cc: &str, city: &str) -> Value {
    Value::map([
        ("city", names(city)),
        ("continent", Value::map([("code", Value::from("EU"))])),
        ("country", Value::map([("iso_code", Value::from(cc))])),
        (
            "location",
            Value::map([
                ("latitude", Value::Double(1.5)),
                ("longitude", Value::Double(2.5)),
            ]),
        ),
    ])
}

fn asn_rec(asn: u32, org: &str) -> Value {
    Value::map([
        ("autonomous_system_number", Value::from(asn)),
        ("autonomous_system_organization", Value::from(org)),
    ])
}

/// A DB-IP combined record: city fields and ASN fields together.
fn combined_rec(cc: &str, city: &str, asn: u32, org: &str) -> Value {
    let mut m: BTreeMap<String, Value> = BTreeMap::new();
    for v in [city_rec(cc, city), asn_rec(asn, org)] {
        if let Value::Map(inner) = v {
            m.extend(inner);
        }
    }
    Value::Map(m)
}

fn mmdb(db_type: &str, version: IpVersion, entries: &[(&str, Value)]) -> Vec<u8> {
    let mut w = Writer::builder(db_type).ip_version(version).build();
    for (net, v) in entries {
        w.insert_value(net.parse::<ipnet::IpNet>().unwrap(), v.clone())
            .unwrap();
    }
    w.to_bytes().unwrap()
}

fn geolite_city() -> Vec<u8> {
    mmdb(
        "GeoLite2-City",
        IpVersion::V6,
        &[
            ("81.2.0.0/16", city_rec("GB", "London")),
            ("2a00:1450::/32", city_rec("IE", "Dublin")),
            // Country only (a city-less network): still a city-kind file.
            ("8.8.8.0/24", city_rec("US", "")),
        ],
    )
}

fn geolite_asn() -> Vec<u8> {
    mmdb(
        "GeoLite2-ASN",
        IpVersion::V6,
        &[
            ("81.2.0.0/16", asn_rec(20712, "Andrews & Arnold Ltd")),
            ("2a00:1450::/32", asn_rec(15169, "GOOGLE")),
        ],
    )
}

fn cfg(dir: &Path, city: &str, asn: &str) -> GeoipConfig {
    GeoipConfig {
        enabled: true,
        city_db: dir.join(city),
        asn_db: dir.join(asn),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn info(cc: &str, city: Option<&str>, asn: Option<u32>, org: Option<&str>) -> GeoInfo {
    GeoInfo {
        country: Some(cc.into()),
        city: city.map(Into::into),
        asn,
        org: org.map(Into::into),
    }
}

/// Writes via a temp file renamed over `path`, as updaters do.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn geolite_dir() -> TempDir {
    let dir = TempDir::new().unwrap();
    fs::write(dir.path().join("GeoLite2-City.mmdb"), geolite_city()).unwrap();
    fs::write(dir.path().join("GeoLite2-ASN.mmdb"), geolite_asn()).unwrap();
    dir
}

#[test]
fn geolite2_lookups_field_by_field() {
    let dir = geolite_dir();
    let geo = GeoIp::open(&cfg(dir.path(), "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"));
    assert_eq!(geo.note(), None);
    assert!(geo.is_active());
    assert!(!geo.uses_dbip());
    let london = info(
        "GB",
        Some("London"),
        Some(20712),
        Some("Andrews & Arnold Ltd"),
    );
    assert_eq!(geo.lookup(ip("81.2.69.160")), london);
    // IPv4-mapped IPv6 is the same address.
    assert_eq!(geo.lookup(ip("::ffff:81.2.69.160")), london);
    let dublin = info("IE", Some("Dublin"), Some(15169), Some("GOOGLE"));
    assert_eq!(geo.lookup(ip("2a00:1450:4001::200e")), dublin);
    // Empty city name is no city; no ASN network.
    assert_eq!(geo.lookup(ip("8.8.8.8")), info("US", None, None, None));
    assert_eq!(geo.lookup(ip("5.5.5.5")), GeoInfo::default());
    assert_eq!(
        geo.describe(),
        "GeoLite2-City.mmdb (city), GeoLite2-ASN.mmdb (ASN)"
    );
}

#[test]
fn private_and_reserved_addresses_are_empty() {
    let dir = TempDir::new().unwrap();
    // A database that answers for private space too: the lookup must not happen.
    let bytes = mmdb(
        "GeoLite2-City",
        IpVersion::V6,
        &[
            ("10.0.0.0/8", city_rec("ZZ", "Nowhere")),
            ("192.168.0.0/16", city_rec("ZZ", "Nowhere")),
            ("fc00::/7", city_rec("ZZ", "Nowhere")),
            ("81.0.0.0/8", city_rec("GB", "London")),
        ],
    );
    fs::write(dir.path().join("c.mmdb"), bytes).unwrap();
    let geo = GeoIp::open(&cfg(dir.path(), "c.mmdb", "none.mmdb"));
    for s in [
        "10.1.2.3",
        "192.168.1.1",
        "127.0.0.1",
        "fd00::1",
        "::1",
        "::ffff:10.0.0.1",
    ] {
        assert_eq!(geo.lookup(ip(s)), GeoInfo::default(), "{s}");
    }
    assert_eq!(geo.lookup(ip("81.1.1.1")).city.as_deref(), Some("London"));
}

#[test]
fn ipv4_only_database() {
    let dir = TempDir::new().unwrap();
    let bytes = mmdb(
        "DBIP-ASN-Lite (compat=GeoLite2-ASN)",
        IpVersion::V4,
        &[("81.0.0.0/8", asn_rec(20712, "AAISP"))],
    );
    fs::write(dir.path().join("a.mmdb"), bytes).unwrap();
    let geo = GeoIp::open(&cfg(dir.path(), "none.mmdb", "a.mmdb"));
    let got = geo.lookup(ip("81.2.3.4"));
    assert_eq!((got.asn, got.org.as_deref()), (Some(20712), Some("AAISP")));
    // An IPv6 address in an IPv4 database: empty, no error.
    assert_eq!(geo.lookup(ip("2a00:1450::1")), GeoInfo::default());
    assert!(geo.uses_dbip(), "DB-IP by metadata type");
}

#[test]
fn missing_files_are_notes() {
    let dir = TempDir::new().unwrap();
    let geo = GeoIp::open(&cfg(dir.path(), "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"));
    let note = geo.note().unwrap();
    assert!(note.contains("city database not found"), "{note}");
    assert!(note.contains("ASN database not found"), "{note}");
    assert!(note.contains("dbip-city-lite*.mmdb"), "{note}");
    assert!(!geo.is_active());
    assert_eq!(geo.lookup(ip("81.2.69.160")), GeoInfo::default());
    assert!(
        geo.describe().contains("GeoLite2-City.mmdb"),
        "names what it looked for"
    );
}

#[test]
fn disabled_is_silent_and_empty() {
    let dir = geolite_dir();
    let mut c = cfg(dir.path(), "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb");
    c.enabled = false;
    let mut geo = GeoIp::open(&c);
    assert_eq!(geo.note(), None);
    assert!(!geo.is_active());
    assert!(!geo.reopen_if_changed());
    assert_eq!(geo.lookup(ip("81.2.69.160")), GeoInfo::default());
}

#[test]
fn dbip_fallback_newest_by_name() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let old = mmdb(
        "DBIP-City-Lite",
        IpVersion::V6,
        &[("81.0.0.0/8", city_rec("FR", "Old"))],
    );
    let new = mmdb(
        "DBIP-City-Lite",
        IpVersion::V6,
        &[("81.0.0.0/8", city_rec("DE", "New"))],
    );
    fs::write(d.join("dbip-city-lite-2026-10.mmdb"), old).unwrap();
    fs::write(d.join("dbip-city-lite-2026-11.mmdb"), new).unwrap();
    // Not candidates: wrong suffix, wrong kind.
    fs::write(d.join("dbip-city-lite-2026-12.mmdb.gz"), b"x").unwrap();
    fs::write(d.join("dbip-country-lite-2026-12.mmdb"), b"x").unwrap();
    let asn = mmdb(
        "DBIP-ASN-Lite",
        IpVersion::V6,
        &[("81.0.0.0/8", asn_rec(3320, "DTAG"))],
    );
    fs::write(d.join("dbip-asn-lite-2026-11.mmdb"), asn).unwrap();

    let mut geo = GeoIp::open(&cfg(d, "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"));
    assert_eq!(geo.note(), None, "fallback found, nothing to report");
    assert!(geo.uses_dbip());
    assert_eq!(
        geo.lookup(ip("81.1.1.1")),
        info("DE", Some("New"), Some(3320), Some("DTAG"))
    );
    assert_eq!(
        geo.describe(),
        "dbip-city-lite-2026-11.mmdb (city), dbip-asn-lite-2026-11.mmdb (ASN)"
    );

    // Next month's file beside it is picked up by the tick.
    let dec = mmdb(
        "DBIP-City-Lite",
        IpVersion::V6,
        &[("81.0.0.0/8", city_rec("NL", "Dec"))],
    );
    fs::write(d.join("dbip-city-lite-2026-12.mmdb"), dec).unwrap();
    assert!(geo.reopen_if_changed(), "{geo:?}");
    assert_eq!(geo.lookup(ip("81.1.1.1")).city.as_deref(), Some("Dec"));

    // A GeoLite2 file at the configured path wins over DB-IP.
    fs::write(d.join("GeoLite2-City.mmdb"), geolite_city()).unwrap();
    assert!(geo.reopen_if_changed());
    assert_eq!(
        geo.lookup(ip("81.2.69.160")).city.as_deref(),
        Some("London")
    );
    assert!(geo.uses_dbip(), "the ASN slot is still DB-IP");
}

#[test]
fn unknown_type_serves_what_each_record_carries() {
    let dir = TempDir::new().unwrap();
    // A combined DB-IP file configured as the city DB, whose metadata type
    // says nothing useful; no ASN file at all. Each record's fields decide.
    let bytes = mmdb(
        "Whatever",
        IpVersion::V6,
        &[
            ("81.2.0.0/16", combined_rec("GB", "London", 20712, "AAISP")),
            (
                "2a00:1450::/32",
                combined_rec("IE", "Dublin", 15169, "GOOGLE"),
            ),
        ],
    );
    fs::write(dir.path().join("dbip-full.mmdb"), bytes).unwrap();
    let geo = GeoIp::open(&cfg(dir.path(), "dbip-full.mmdb", "GeoLite2-ASN.mmdb"));
    assert_eq!(
        geo.note(),
        None,
        "the ASN data is there, no missing-file note"
    );
    assert_eq!(
        geo.lookup(ip("2a00:1450::1")),
        info("IE", Some("Dublin"), Some(15169), Some("GOOGLE"))
    );
    assert_eq!(geo.describe(), "dbip-full.mmdb (city, ASN)");

    // Files swapped in the config: each still serves what it carries.
    let dir = geolite_dir();
    let geo = GeoIp::open(&cfg(dir.path(), "GeoLite2-ASN.mmdb", "GeoLite2-City.mmdb"));
    assert_eq!(
        geo.lookup(ip("81.2.69.160")),
        info(
            "GB",
            Some("London"),
            Some(20712),
            Some("Andrews & Arnold Ltd")
        )
    );
}

#[test]
fn file_without_known_fields_is_a_note() {
    // A MaxMind product whose metadata names neither kind of data: refused
    // by what the file says, before any lookup.
    let dir = TempDir::new().unwrap();
    let bytes = mmdb(
        "GeoIP2-Anonymous-IP",
        IpVersion::V6,
        &[(
            "81.0.0.0/8",
            Value::map([("is_anonymous", Value::Bool(true))]),
        )],
    );
    fs::write(dir.path().join("c.mmdb"), bytes).unwrap();
    let geo = GeoIp::open(&cfg(dir.path(), "c.mmdb", "none.mmdb"));
    let note = geo.note().unwrap();
    assert!(note.contains("neither country/city nor ASN"), "{note}");
    assert!(note.contains("is a GeoIP2-Anonymous-IP database"), "{note}");
    assert!(!geo.is_active());
}

#[test]
fn city_file_is_trusted_whatever_its_records_hold() {
    // A city file whose records hold none of our fields at the addresses
    // anyone would try (and none of the old probe list): opened, no note;
    // a lookup finds nothing rather than the file being refused.
    let dir = TempDir::new().unwrap();
    let bytes = mmdb(
        "GeoLite2-City",
        IpVersion::V6,
        &[
            ("81.0.0.0/8", Value::map([("foo", Value::from(1u32))])),
            ("198.51.99.0/24", city_rec("NL", "Amsterdam")),
        ],
    );
    fs::write(dir.path().join("c.mmdb"), bytes).unwrap();
    let geo = GeoIp::open(&cfg(dir.path(), "c.mmdb", "none.mmdb"));
    let note = geo.note().unwrap_or_default();
    assert!(!note.contains("c.mmdb"), "{note}");
    assert!(geo.is_active());
    assert_eq!(geo.lookup(ip("81.1.1.1")), GeoInfo::default());
    assert_eq!(
        geo.lookup(ip("198.51.99.7")),
        info("NL", Some("Amsterdam"), None, None)
    );
}

#[test]
fn kinds_come_from_the_database_type() {
    let both = Some(Kinds::BOTH);
    let city = Some(Kinds {
        city: true,
        asn: false,
    });
    let asn = Some(Kinds {
        city: false,
        asn: true,
    });
    for (database_type, want) in [
        ("GeoIP2-City", city),
        ("GeoLite2-City", city),
        ("GeoIP2-City-Shield", city),
        ("GeoLite2-Country", city),
        ("GeoIP2-Country", city),
        ("DBIP-City-Lite", city),
        ("DBIP-Country-Lite", city),
        ("DBIP-Location (compat=City)", city),
        ("GeoLite2-ASN", asn),
        ("GeoIP2-ISP", asn),
        ("DBIP-ASN-Lite", asn),
        ("DBIP-ASN-Lite (compat=GeoLite2-ASN)", asn),
        ("GeoIP2-Enterprise", both),
        ("GeoIP2-Precision-Enterprise", both),
        ("DBIP-ISP (compat=Enterprise)", both),
        ("DBIP-Location-ISP (compat=Enterprise)", both),
        ("ipinfo country_asn.mmdb", both),
        // Custom or unknown: the records decide.
        ("My-Company-Networks", both),
        ("Test", both),
        ("", both),
        // A word inside another word is not that word.
        ("Display-Names", both),
        // MaxMind's products without country, city or ASN data.
        ("GeoIP2-Anonymous-IP", None),
        ("GeoIP-Anonymous-Plus", None),
        ("GeoIP2-Connection-Type", None),
        ("GeoIP2-Domain", None),
        ("GeoIP2-IP-Risk", None),
        ("GeoIP2-User-Count", None),
        ("GeoIP2-DensityIncome", None),
        ("GeoIP-Residential-Proxy", None),
    ] {
        assert_eq!(Kinds::of_type(database_type), want, "{database_type:?}");
    }
}

// ---------------------------------------------------------------------------
// MaxMind's official test databases

/// A config whose slots are files of MaxMind's test data (or absent names).
fn maxmind_cfg(city: &str, asn: &str) -> GeoipConfig {
    cfg(Path::new(MAXMIND).join("test-data").as_path(), city, asn)
}

#[test]
fn maxmind_city_test_databases() {
    for city_db in ["GeoLite2-City-Test.mmdb", "GeoIP2-City-Test.mmdb"] {
        let geo = GeoIp::open(&maxmind_cfg(city_db, "GeoLite2-ASN-Test.mmdb"));
        assert_eq!(geo.note(), None, "{city_db}");
        let london = geo.lookup(ip("81.2.69.142"));
        assert_eq!(
            (london.country.as_deref(), london.city.as_deref()),
            (Some("GB"), Some("London")),
            "{city_db}"
        );
        let san_diego = geo.lookup(ip("2001:480:10::1"));
        assert_eq!(
            (san_diego.country.as_deref(), san_diego.city.as_deref()),
            (Some("US"), Some("San Diego")),
            "{city_db}"
        );
        let sweden = geo.lookup(ip("::ffff:89.160.20.112"));
        assert_eq!(sweden.city.as_deref(), Some("Linköping"), "{city_db}");
        assert_eq!(
            geo.describe(),
            format!("{city_db} (city), GeoLite2-ASN-Test.mmdb (ASN)")
        );
    }
}

/// Issue 12 item 4: the drill-down's full country name, from MaxMind's
/// own test databases (city and country files).
#[test]
fn country_names_in_english() {
    for city_db in ["GeoIP2-City-Test.mmdb", "GeoLite2-Country-Test.mmdb"] {
        let geo = GeoIp::open(&maxmind_cfg(city_db, "none.mmdb"));
        let name = |a: &str| geo.country_name(ip(a));
        assert_eq!(
            name("81.2.69.142").as_deref(),
            Some("United Kingdom"),
            "{city_db}"
        );
        assert_eq!(
            name("::ffff:89.160.20.112").as_deref(),
            Some("Sweden"),
            "{city_db}"
        );
        assert_eq!(name("10.0.0.1"), None, "private: not looked up");
    }
    // Our own GeoLite2-shaped file has codes and no names.
    let dir = geolite_dir();
    let geo = GeoIp::open(&cfg(dir.path(), "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"));
    assert_eq!(geo.country_name(ip("81.2.69.160")), None);
}

#[test]
fn maxmind_country_test_database() {
    let geo = GeoIp::open(&maxmind_cfg("GeoLite2-Country-Test.mmdb", "none.mmdb"));
    assert!(geo.is_active());
    let note = geo.note().unwrap();
    assert!(
        !note.contains("Country"),
        "only the ASN file is missing: {note}"
    );
    assert_eq!(geo.lookup(ip("81.2.69.142")), info("GB", None, None, None));
    assert_eq!(geo.lookup(ip("2001:218::1")), info("JP", None, None, None));
    assert_eq!(geo.describe(), "GeoLite2-Country-Test.mmdb (city)");
}

#[test]
fn maxmind_asn_test_database() {
    let geo = GeoIp::open(&maxmind_cfg("none.mmdb", "GeoLite2-ASN-Test.mmdb"));
    assert!(geo.is_active());
    let asn = |s: &str| {
        let got = geo.lookup(ip(s));
        assert_eq!((&got.country, &got.city), (&None, &None), "{s}");
        (got.asn, got.org)
    };
    assert_eq!(
        asn("1.128.0.1"),
        (Some(1221), Some("Telstra Pty Ltd".into()))
    );
    assert_eq!(
        asn("2c0f:ff40::1"),
        (Some(10474), Some("MWEB-10474".into()))
    );
    // A network with a number and no organisation.
    assert_eq!(asn("12.81.96.1"), (Some(7018), None));
    assert_eq!(geo.describe(), "GeoLite2-ASN-Test.mmdb (ASN)");
}

#[test]
fn maxmind_enterprise_test_database_serves_both_slots() {
    // Enterprise keeps the ASN under `traits`; one file, no ASN file needed.
    let geo = GeoIp::open(&maxmind_cfg("GeoIP2-Enterprise-Test.mmdb", "none.mmdb"));
    assert_eq!(geo.note(), None);
    assert_eq!(
        geo.lookup(ip("89.160.20.112")),
        info("SE", Some("Linköping"), Some(29518), Some("Bredband2 AB"))
    );
    assert_eq!(
        geo.lookup(ip("2001:480:10::1")),
        info("US", Some("San Diego"), Some(22), Some("DNIC-AS-00022"))
    );
    assert_eq!(geo.describe(), "GeoIP2-Enterprise-Test.mmdb (city, ASN)");
}

#[test]
fn maxmind_domain_test_database_is_a_note() {
    let geo = GeoIp::open(&maxmind_cfg("GeoIP2-Domain-Test.mmdb", "none.mmdb"));
    let note = geo.note().unwrap();
    assert!(
        note.contains("GeoIP2-Domain-Test.mmdb is a GeoIP2-Domain database")
            && note.contains("neither country/city nor ASN"),
        "{note}"
    );
    assert!(!geo.is_active());
}

/// Every file under `dir`, recursively, that ends in `.mmdb`.
fn mmdb_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            mmdb_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "mmdb") {
            out.push(path);
        }
    }
}

#[test]
fn maxmind_bad_and_hostile_files_give_a_note_never_a_crash() {
    let mut files = Vec::new();
    mmdb_files(&Path::new(MAXMIND).join("bad-data"), &mut files);
    let hostile = ["Broken", "Invalid", "broken", "dos", "limit"];
    let mut test_data = Vec::new();
    mmdb_files(&Path::new(MAXMIND).join("test-data"), &mut test_data);
    files.extend(
        test_data
            .into_iter()
            .filter(|p| hostile.iter().any(|h| p.to_string_lossy().contains(h))),
    );
    assert!(files.len() >= 30, "{files:?}");
    let mut rng = Rng(0x5eed_0f6e_0100);
    let mut refused = 0;
    let mut faulted = 0;
    for path in &files {
        let started = Instant::now();
        let dir = path.parent().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let geo = GeoIp::open(&cfg(dir, name, name));
        let note = geo.note().unwrap_or_default().to_owned();
        if geo.is_active() {
            // Opened (its metadata is sound): lookups anywhere come back
            // empty or partial, never a panic or a hang; one that hits the
            // corrupt part says so in the note.
            probe_everything(&geo, &mut rng);
            let after = geo.note().unwrap_or_default();
            if after != note {
                assert!(
                    after.contains(name) && after.contains("looks corrupt"),
                    "{after}"
                );
                faulted += 1;
            }
        } else {
            assert!(note.contains(name), "{name}: {note}");
            assert_eq!(geo.lookup(ip("81.2.69.142")), GeoInfo::default());
            refused += 1;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name} took {:?}",
            started.elapsed()
        );
    }
    assert!(
        refused >= 10,
        "most bad files are refused at open: {refused}"
    );
    assert!(faulted >= 5, "corrupt trees and data are noted: {faulted}");
}

#[test]
fn a_corrupt_spot_found_by_a_lookup_is_noted_once() {
    // Its metadata is sound, so it opens; some of its doubles are not.
    let geo = GeoIp::open(&maxmind_cfg(
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoLite2-ASN-Test.mmdb",
    ));
    assert!(geo.is_active());
    assert_eq!(geo.note(), None);
    let mut rng = Rng(7);
    probe_everything(&geo, &mut rng);
    let note = geo.note().unwrap().to_owned();
    assert!(
        note.contains("GeoIP2-City-Test-Broken-Double-Format.mmdb looks corrupt: a lookup failed"),
        "{note}"
    );
    // The ASN file still answers; the note stays the first fault's.
    assert_eq!(geo.lookup(ip("1.128.0.1")).asn, Some(1221));
    probe_everything(&geo, &mut rng);
    assert_eq!(geo.note(), Some(note.as_str()));
}

#[test]
fn registered_country_when_country_missing() {
    let dir = TempDir::new().unwrap();
    let rec = Value::map([(
        "registered_country",
        Value::map([("iso_code", Value::from("SE"))]),
    )]);
    let bytes = mmdb("GeoLite2-City", IpVersion::V6, &[("81.0.0.0/8", rec)]);
    fs::write(dir.path().join("c.mmdb"), bytes).unwrap();
    let geo = GeoIp::open(&cfg(dir.path(), "c.mmdb", "none.mmdb"));
    assert_eq!(geo.lookup(ip("81.1.1.1")).country.as_deref(), Some("SE"));
}

#[test]
fn replaced_file_is_reopened() {
    let dir = geolite_dir();
    let city = dir.path().join("GeoLite2-City.mmdb");
    let mut geo = GeoIp::open(&cfg(dir.path(), "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"));
    assert!(!geo.reopen_if_changed(), "nothing changed");
    let next = mmdb(
        "GeoLite2-City",
        IpVersion::V6,
        &[("81.0.0.0/8", city_rec("GB", "Manchester"))],
    );
    replace(&city, &next);
    assert!(geo.reopen_if_changed());
    assert_eq!(
        geo.lookup(ip("81.2.69.160")).city.as_deref(),
        Some("Manchester")
    );
    assert_eq!(
        geo.lookup(ip("81.2.69.160")).asn,
        Some(20712),
        "ASN untouched"
    );
    assert_eq!(geo.note(), None);
}

#[test]
fn broken_replacement_keeps_the_old_database() {
    let dir = geolite_dir();
    let city = dir.path().join("GeoLite2-City.mmdb");
    let mut geo = GeoIp::open(&cfg(dir.path(), "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"));
    let good = geolite_city();
    replace(&city, &good[..good.len() / 2]);
    assert!(geo.reopen_if_changed());
    let note = geo.note().unwrap();
    assert!(note.contains("still using the previous one"), "{note}");
    assert_eq!(
        geo.lookup(ip("81.2.69.160")).city.as_deref(),
        Some("London")
    );
    // The broken file is not retried every tick.
    assert!(!geo.reopen_if_changed());
    // A good file later clears the note.
    replace(&city, &good);
    assert!(geo.reopen_if_changed());
    assert_eq!(geo.note(), None);
    assert_eq!(
        geo.lookup(ip("81.2.69.160")).city.as_deref(),
        Some("London")
    );
}

#[test]
fn missing_file_that_appears_later_is_opened() {
    let dir = TempDir::new().unwrap();
    let mut geo = GeoIp::open(&cfg(dir.path(), "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"));
    assert!(geo.note().is_some());
    fs::write(dir.path().join("GeoLite2-City.mmdb"), geolite_city()).unwrap();
    fs::write(dir.path().join("GeoLite2-ASN.mmdb"), geolite_asn()).unwrap();
    assert!(geo.reopen_if_changed());
    assert_eq!(geo.note(), None);
    assert_eq!(geo.lookup(ip("81.2.69.160")).asn, Some(20712));
}

#[test]
fn deleted_file_keeps_the_loaded_copy() {
    let dir = geolite_dir();
    let mut geo = GeoIp::open(&cfg(dir.path(), "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"));
    fs::remove_file(dir.path().join("GeoLite2-City.mmdb")).unwrap();
    assert!(geo.reopen_if_changed());
    assert!(geo.note().unwrap().contains("is gone"));
    assert_eq!(
        geo.lookup(ip("81.2.69.160")).city.as_deref(),
        Some("London")
    );
}

#[test]
fn truncated_and_garbage_files_are_notes() {
    let dir = TempDir::new().unwrap();
    let good = geolite_city();
    let cases: [(&str, &[u8]); 4] = [
        ("empty", b""),
        ("text", b"not a database\n"),
        ("head", &good[..good.len() / 3]),
        ("tail", &good[good.len() - 40..]),
    ];
    for (name, bytes) in cases {
        fs::write(dir.path().join(name), bytes).unwrap();
        let geo = GeoIp::open(&cfg(dir.path(), name, "none.mmdb"));
        let note = geo.note().unwrap();
        assert!(note.contains("unreadable"), "{name}: {note}");
        assert_eq!(geo.lookup(ip("81.2.69.160")), GeoInfo::default());
    }
    // A directory where a file should be.
    fs::create_dir(dir.path().join("adir")).unwrap();
    let geo = GeoIp::open(&cfg(dir.path(), "adir", "none.mmdb"));
    assert!(geo.note().unwrap().contains("unreadable"));
    // A FIFO would block the start in maxminddb's open; /dev/zero is no file.
    let fifo = dir.path().join("fifo.mmdb");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.mmdb")).unwrap();
    for name in ["fifo.mmdb", "zero.mmdb"] {
        let geo = GeoIp::open(&cfg(dir.path(), name, "none.mmdb"));
        let note = geo.note().unwrap();
        assert!(note.contains("not a regular file"), "{name}: {note}");
    }
}

fn probe_everything(geo: &GeoIp, rng: &mut Rng) {
    for s in [
        "81.2.69.160",
        "81.2.69.142",
        "8.8.8.8",
        "2a00:1450::1",
        "1.1.1.1",
        "1.1.1.3",
        "2001:480:10::1",
    ] {
        let _ = geo.lookup(ip(s));
    }
    for _ in 0..20 {
        let v4 = Ipv4Addr::from(rng.next() as u32);
        let _ = geo.lookup(IpAddr::V4(v4));
        let v6 = Ipv6Addr::from(u128::from(rng.next()) << 64 | u128::from(rng.next()));
        let _ = geo.lookup(IpAddr::V6(v6));
    }
}

#[test]
fn random_and_mutated_databases_never_panic() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("f.mmdb");
    let good = mmdb(
        "GeoLite2-City",
        IpVersion::V6,
        &[
            ("81.2.0.0/16", combined_rec("GB", "London", 20712, "AAISP")),
            (
                "2a00:1450::/32",
                combined_rec("IE", "Dublin", 15169, "GOOGLE"),
            ),
            (
                "8.8.8.0/24",
                combined_rec("US", "Mountain View", 15169, "GOOGLE"),
            ),
        ],
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..400 {
        let bytes: Vec<u8> = if i % 4 == 0 {
            // Pure noise, sometimes with the metadata marker so parsing goes on.
            let mut b: Vec<u8> = (0..rng.index(4096)).map(|_| rng.next() as u8).collect();
            if i % 8 == 0 {
                b.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
                b.extend((0..rng.index(64)).map(|_| rng.next() as u8));
            }
            b
        } else {
            // A valid file with a few bytes flipped, or truncated.
            let mut b = good.clone();
            for _ in 0..1 + rng.index(8) {
                let at = rng.index(b.len());
                b[at] = rng.next() as u8;
            }
            if i % 3 == 0 {
                b.truncate(rng.index(b.len()));
            }
            b
        };
        fs::write(&path, &bytes).unwrap();
        let geo = GeoIp::open(&cfg(dir.path(), "f.mmdb", "f.mmdb"));
        probe_everything(&geo, &mut rng);
    }
}

#[test]
fn rewritten_in_place_reopens_and_never_keeps_a_stale_mapping() {
    let dir = geolite_dir();
    let city = dir.path().join("GeoLite2-City.mmdb");
    let mut geo = GeoIp::open(&cfg(dir.path(), "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"));
    let ino = Stamp::of(&city).unwrap().ino;
    // Same inode, new contents (`cp new old`): reopened.
    let next = mmdb(
        "GeoLite2-City",
        IpVersion::V6,
        &[("81.0.0.0/8", city_rec("GB", "Leeds"))],
    );
    fs::write(&city, &next).unwrap();
    assert_eq!(Stamp::of(&city).unwrap().ino, ino, "rewritten in place");
    assert!(geo.reopen_if_changed());
    assert_eq!(geo.lookup(ip("81.2.69.160")).city.as_deref(), Some("Leeds"));
    // Same inode, now garbage: the old mapping shows garbage too, so it is
    // dropped rather than kept; the ASN file still answers.
    fs::write(&city, b"garbage").unwrap();
    assert!(geo.reopen_if_changed());
    let note = geo.note().unwrap();
    assert!(
        note.contains("city database") && note.contains("unreadable"),
        "{note}"
    );
    let got = geo.lookup(ip("81.2.69.160"));
    assert_eq!((got.city, got.asn), (None, Some(20712)));
}

#[test]
#[ignore = "timing, run by hand with --nocapture"]
fn lookup_speed() {
    let dir = geolite_dir();
    let geo = GeoIp::open(&cfg(dir.path(), "GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"));
    let t = std::time::Instant::now();
    let n = 200_000u32;
    for i in 0..n {
        let a = Ipv4Addr::from(0x5102_0000 | (i & 0xffff));
        std::hint::black_box(geo.lookup(IpAddr::V4(a)));
    }
    println!("{:?} per lookup", t.elapsed() / n);
}
