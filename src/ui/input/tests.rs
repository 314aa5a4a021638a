use super::*;
use crate::testutil::Rng;

fn decode(bytes: &[u8]) -> Vec<Key> {
    let mut d = KeyDecoder::new();
    let mut keys = Vec::new();
    d.feed(bytes, &mut |k| keys.push(k));
    keys
}

/// Decode in the given pieces, then flush as the loop's timer would.
fn decode_pieces(pieces: &[&[u8]]) -> Vec<Key> {
    let mut d = KeyDecoder::new();
    let mut keys = Vec::new();
    for p in pieces {
        d.feed(p, &mut |k| keys.push(k));
        assert!(d.buffered() <= MAX_PENDING);
    }
    d.flush_timeout(&mut |k| keys.push(k));
    keys
}

/// Every key sequence the dashboard must know, as xterm, vt220, rxvt, the
/// Linux console and tmux send them.
const CASES: &[(&[u8], Key)] = &[
    (b"\r", Key::Enter),
    (b"\n", Key::Enter),
    (b"\x1bOM", Key::Enter),
    (b"\t", Key::Tab),
    (b"\x1b[Z", Key::BackTab),
    (b"\x7f", Key::Backspace),
    (b"\x08", Key::Backspace),
    (b"\x1b[3~", Key::Delete),
    (b"\x1b[3;5~", Key::Delete),
    (b"\x1b[2~", Key::Insert),
    (b"\x1b[A", Key::Up),
    (b"\x1b[B", Key::Down),
    (b"\x1b[C", Key::Right),
    (b"\x1b[D", Key::Left),
    (b"\x1bOA", Key::Up),
    (b"\x1bOB", Key::Down),
    (b"\x1bOC", Key::Right),
    (b"\x1bOD", Key::Left),
    (b"\x1b[1;5A", Key::Up),
    (b"\x1b[1;2B", Key::Down),
    (b"\x1bO5C", Key::Right),
    (b"\x1b[H", Key::Home),
    (b"\x1b[F", Key::End),
    (b"\x1bOH", Key::Home),
    (b"\x1bOF", Key::End),
    (b"\x1b[1~", Key::Home),
    (b"\x1b[4~", Key::End),
    (b"\x1b[7~", Key::Home),
    (b"\x1b[8~", Key::End),
    (b"\x1b[7$", Key::Home),
    (b"\x1b[8^", Key::End),
    (b"\x1b[1;5H", Key::Home),
    (b"\x1b[5~", Key::PageUp),
    (b"\x1b[6~", Key::PageDown),
    (b"\x1b[5;2~", Key::PageUp),
    (b"\x1bOP", Key::F(1)),
    (b"\x1bOS", Key::F(4)),
    (b"\x1b[11~", Key::F(1)),
    (b"\x1b[15~", Key::F(5)),
    (b"\x1b[17~", Key::F(6)),
    (b"\x1b[21~", Key::F(10)),
    (b"\x1b[23~", Key::F(11)),
    (b"\x1b[24~", Key::F(12)),
    (b"\x1b[1;2P", Key::F(1)),
    (b"\x1b[[A", Key::F(1)),
    (b"\x1b[[E", Key::F(5)),
    (b"\x03", Key::Ctrl('c')),
    (b"\x1a", Key::Ctrl('z')),
    (b"\x01", Key::Ctrl('a')),
    (b"\x00", Key::Ctrl(' ')),
    (b"\x1c", Key::Ctrl('\\')),
    (b"\x1f", Key::Ctrl('_')),
    (b"q", Key::Char('q')),
    (b"/", Key::Char('/')),
    (b"!", Key::Char('!')),
    (b"?", Key::Char('?')),
    (b"1", Key::Char('1')),
    (b" ", Key::Char(' ')),
    (b"\xc3\xa9", Key::Char('é')),
    (b"\xe2\x82\xac", Key::Char('€')),
    (b"\xf0\x9f\x98\x80", Key::Char('😀')),
    (b"\x1bq", Key::Alt('q')),
    (b"\x1b[99~", Key::Unknown),
    (b"\x1b[?1;2c", Key::Unknown),
    (b"\x1b[<0;10;20M", Key::Unknown),
    (b"\x1b[I", Key::Unknown),
    (b"\x1bOx", Key::Unknown),
    (b"\xc2\x9b", Key::Unknown),
];

#[test]
fn every_listed_sequence_decodes() {
    for (bytes, key) in CASES {
        assert_eq!(decode(bytes), vec![*key], "{bytes:?}");
    }
}

#[test]
fn lone_escape_waits_for_the_timer() {
    let mut d = KeyDecoder::new();
    let mut keys = Vec::new();
    d.feed(b"\x1b", &mut |k| keys.push(k));
    assert!(keys.is_empty());
    assert!(d.pending_escape());
    d.flush_timeout(&mut |k| keys.push(k));
    assert_eq!(keys, [Key::Esc]);
    assert!(!d.pending_escape());
    // Nothing left over: the next byte is itself.
    d.feed(b"[", &mut |k| keys.push(k));
    assert_eq!(keys, [Key::Esc, Key::Char('[')]);
}

#[test]
fn timeout_settles_cut_sequences() {
    assert_eq!(decode_pieces(&[b"\x1b["]), [Key::Alt('[')]);
    assert_eq!(decode_pieces(&[b"\x1bO"]), [Key::Alt('O')]);
    assert_eq!(decode_pieces(&[b"\x1b[1;"]), [Key::Unknown]);
    assert_eq!(decode_pieces(&[b"\x1b[["]), [Key::Unknown]);
    assert_eq!(decode_pieces(&[b"x"]), [Key::Char('x')]);
}

#[test]
fn escape_followed_by_escape_or_control() {
    assert_eq!(decode(b"\x1b\x1b[A"), [Key::Esc, Key::Up]);
    assert_eq!(decode(b"\x1b\x03"), [Key::Esc, Key::Ctrl('c')]);
    assert_eq!(decode(b"\x1b\r"), [Key::Esc, Key::Enter]);
    // A control byte inside a sequence cuts it and counts as itself.
    assert_eq!(decode(b"\x1b[1\x03"), [Key::Unknown, Key::Ctrl('c')]);
    assert_eq!(decode(b"\x1b[\x1b[B"), [Key::Alt('['), Key::Down]);
}

/// Every way to cut `bytes` into pieces (2^(n-1) of them; n ≤ 12 here).
fn all_partitions(bytes: &[u8]) -> impl Iterator<Item = Vec<&[u8]>> {
    let cuts = bytes.len().saturating_sub(1);
    (0u32..1 << cuts).map(move |mask| {
        let mut pieces = Vec::new();
        let mut start = 0;
        for i in 0..cuts {
            if mask & (1 << i) != 0 {
                pieces.push(&bytes[start..=i]);
                start = i + 1;
            }
        }
        pieces.push(&bytes[start..]);
        pieces
    })
}

#[test]
fn every_split_of_every_sequence_gives_the_same_key() {
    for (bytes, key) in CASES {
        for pieces in all_partitions(bytes) {
            assert_eq!(decode_pieces(&pieces), vec![*key], "{pieces:?}");
        }
    }
}

#[test]
fn all_sequences_in_one_stream_split_anywhere() {
    let stream: Vec<u8> = CASES.iter().flat_map(|(b, _)| b.iter().copied()).collect();
    let expected: Vec<Key> = CASES.iter().map(|(_, k)| *k).collect();
    assert_eq!(decode(&stream), expected);
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(decode_pieces(&[a, b]), expected, "cut at {cut}");
    }
    let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(decode_pieces(&bytewise), expected);
}

#[test]
fn utf8_split_across_feeds_and_invalid_bytes_dropped() {
    assert_eq!(
        decode_pieces(&[b"a\xe2", b"\x82", b"\xacb\xf0\x9f", b"\x98\x80"]),
        [
            Key::Char('a'),
            Key::Char('€'),
            Key::Char('b'),
            Key::Char('😀')
        ]
    );
    // Stray continuation, 0xff, overlong '/', surrogate, too-high code point.
    assert_eq!(
        decode(b"\x80\xff\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80x"),
        [Key::Char('x')]
    );
    // A lead byte cut by ASCII: the lead is dropped, the ASCII kept.
    assert_eq!(decode(b"\xe2\x82q"), [Key::Char('q')]);
    // A lead cut by ESC: the escape still works.
    assert_eq!(decode(b"\xc3\x1b[A"), [Key::Up]);
    // A partial character is not flushed by the escape timer.
    let mut d = KeyDecoder::new();
    let mut keys = Vec::new();
    d.feed(b"\xc3", &mut |k| keys.push(k));
    assert!(!d.pending_escape());
    d.flush_timeout(&mut |k| keys.push(k));
    d.feed(b"\xa9", &mut |k| keys.push(k));
    assert_eq!(keys, [Key::Char('é')]);
}

#[test]
fn overlong_sequence_is_one_unknown_and_never_buffered() {
    let mut d = KeyDecoder::new();
    let mut keys = Vec::new();
    d.feed(b"\x1b[", &mut |k| keys.push(k));
    for _ in 0..10_000 {
        d.feed(b"1;", &mut |k| keys.push(k));
        assert!(d.buffered() <= MAX_PENDING);
    }
    d.feed(b"Ax", &mut |k| keys.push(k));
    assert_eq!(keys, [Key::Unknown, Key::Char('x')]);
    assert_eq!(d.buffered(), 0);
}

#[test]
fn overlong_sequence_cut_by_a_key_keeps_the_key() {
    let mut seq = b"\x1b[".to_vec();
    seq.extend(std::iter::repeat_n(b'9', 100));
    seq.extend(b"\r\x1b[B");
    assert_eq!(decode(&seq), [Key::Unknown, Key::Enter, Key::Down]);
}

#[test]
fn random_bytes_in_random_pieces_match_one_shot_and_stay_bounded() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..2_000 {
        let len = rng.index(200);
        // Half the rounds bias towards escape-heavy streams.
        let stream: Vec<u8> = (0..len)
            .map(|_| {
                let r = rng.next() as u8;
                if round % 2 == 0 {
                    r
                } else {
                    [0x1b, b'[', b'O', b'1', b';', b'~', b'A', 0xe2, 0x82, r][usize::from(r) % 10]
                }
            })
            .collect();
        let mut one = KeyDecoder::new();
        let mut expected = Vec::new();
        one.feed(&stream, &mut |k| expected.push(k));
        assert!(one.buffered() <= MAX_PENDING);
        one.flush_timeout(&mut |k| expected.push(k));

        let mut rest = &stream[..];
        let mut pieces = Vec::new();
        while !rest.is_empty() {
            let (a, b) = rest.split_at(rng.index(rest.len()) + 1);
            pieces.push(a);
            rest = b;
        }
        assert_eq!(decode_pieces(&pieces), expected, "{stream:?}");
    }
}
