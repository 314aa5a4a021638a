use super::*;

/// A string as the contract writes it.
fn json(text: &[u8]) -> String {
    let mut line = Vec::new();
    write_line(&mut line, &Text(text)).unwrap();
    line.pop();
    String::from_utf8(line).unwrap()
}

#[test]
fn json_strings_escape_everything_dangerous() {
    let s = json(b"a\"b\\c\n\x1b[31m\x00\xff\xfe\xe2\x80\xa8end");
    assert_eq!(s, r#""a\"b\\c\n\u001b[31m\u0000��\u2028end""#);
    let parsed: String = serde_json::from_str(&s).unwrap();
    assert!(parsed.starts_with("a\"b\\c\n\u{1b}"));
}

#[test]
fn every_control_is_a_unicode_escape() {
    assert_eq!(
        json(b"\x08\x0c\x7f\xc2\x85\xe2\x80\xa9/"),
        r#""\u0008\u000c\u007f\u0085\u2029/""#
    );
}

#[test]
fn rates_print_as_rust_prints_them() {
    let mut line = Vec::new();
    for (rate, want) in [
        (0.0, "0"),
        (1.5, "1.5"),
        (2.0 / 3.0, "0.67"),
        (1e6, "1000000"),
    ] {
        write_line(&mut line, &Rate(rate)).unwrap();
        assert_eq!(line, format!("{want}\n").into_bytes(), "{rate}");
    }
}
