use super::*;
use crate::testutil::Rng;

/// What the splitter must produce, computed the obvious way on the whole
/// input at once.
fn oracle(input: &[u8], max_line: usize, at_eof: bool) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let tail = parts.pop().unwrap_or_default();
    if at_eof {
        parts.push(tail);
    }
    for line in parts {
        if line.len() > max_line {
            out.push(None);
        } else if !is_blank(line) {
            out.push(Some(line.to_vec()));
        }
    }
    out
}

fn collect(buf: &mut LineBuf, out: &mut Vec<Option<Vec<u8>>>) {
    while let Some(line) = buf.next_line() {
        out.push(match line {
            Line::Complete { text, .. } => Some(text.to_vec()),
            Line::TooLong => None,
        });
    }
}

/// Feed `input` in chunks whose sizes come from `chunk`.
fn split_chunked(
    input: &[u8],
    max_line: usize,
    at_eof: bool,
    mut chunk: impl FnMut() -> usize,
) -> (Vec<Option<Vec<u8>>>, usize) {
    let mut buf = LineBuf::with_max_line(max_line);
    let mut out = Vec::new();
    let mut rest = input;
    let mut peak = 0;
    while !rest.is_empty() {
        let (mut piece, after) = rest.split_at(chunk().clamp(1, rest.len()));
        rest = after;
        while !piece.is_empty() {
            buf.fill(&mut piece).expect("fill from a slice");
            peak = peak.max(buf.capacity());
            collect(&mut buf, &mut out);
        }
    }
    if at_eof {
        buf.finish();
        collect(&mut buf, &mut out);
        assert_eq!(buf.pending(), 0);
    }
    (out, peak)
}

fn random_input(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| match rng.index(10) {
            0..=1 => b'\n',
            2 => b'\r',
            3 => 0,
            4 => 0xff,
            _ => b'a' + u8::try_from(rng.index(26)).unwrap_or(0),
        })
        .collect()
}

#[test]
fn random_chunks_match_one_shot_split() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..400 {
        let max_line = [1, 3, 7, 16, 64][round % 5];
        let len = rng.index(300);
        let input = random_input(&mut rng, len);
        for at_eof in [false, true] {
            let expected = oracle(&input, max_line, at_eof);
            let mut chunks = Rng(rng.next() | 1);
            let (got, peak) = split_chunked(&input, max_line, at_eof, || chunks.index(40) + 1);
            assert_eq!(
                got, expected,
                "round {round} max {max_line} input {input:?}"
            );
            assert!(peak <= max_line + READ_MIN.min(max_line + 1));
        }
    }
}

#[test]
fn long_lines_around_the_limit_with_default_max() {
    let mut input = Vec::new();
    input.extend_from_slice(b"first\n");
    input.extend_from_slice(&vec![b'x'; MAX_LINE]); // exactly the limit: kept
    input.push(b'\n');
    input.extend_from_slice(&vec![b'y'; MAX_LINE + 1]); // one over: skipped
    input.push(b'\n');
    input.extend_from_slice(b"last\n");
    let mut rng = Rng(7);
    for chunk in [1usize, 4096, 65_537, 1 << 20] {
        let (got, _) = split_chunked(&input, MAX_LINE, false, || chunk);
        assert_eq!(got, oracle(&input, MAX_LINE, false), "chunk {chunk}");
    }
    let (got, _) = split_chunked(&input, MAX_LINE, false, || rng.index(20_000) + 1);
    assert_eq!(got.len(), 4);
    assert_eq!(got[2], None);
}

#[test]
fn ten_megabyte_line_is_skipped_in_bounded_memory() {
    let mut input = b"good one\n".to_vec();
    input.extend_from_slice(&vec![b'z'; 10 << 20]);
    input.extend_from_slice(b"\ngood two\n");
    let (got, peak) = split_chunked(&input, MAX_LINE, false, || 1 << 20);
    let expected = vec![Some(b"good one".to_vec()), None, Some(b"good two".to_vec())];
    assert_eq!(got, expected);
    assert!(peak <= MAX_LINE + READ_MIN, "buffer grew to {peak}");
}

#[test]
fn partial_line_waits_for_its_newline() {
    let mut buf = LineBuf::new();
    buf.fill(&mut &b"GET /a HT"[..]).expect("fill");
    assert_eq!(buf.next_line(), None);
    assert_eq!(buf.pending(), 9);
    buf.fill(&mut &b"TP/1.1\r\n\r\n\n"[..]).expect("fill");
    assert_eq!(
        buf.next_line(),
        Some(Line::Complete {
            text: b"GET /a HTTP/1.1\r",
            next: b"\r\n\n"
        })
    );
    assert_eq!(buf.next_line(), None);
    assert_eq!(buf.pending(), 0);
}

#[test]
fn nul_and_invalid_utf8_are_plain_bytes() {
    let mut buf = LineBuf::new();
    buf.fill(&mut &b"a\0b\xff\xfe\n\xc3\x28\n"[..])
        .expect("fill");
    assert_eq!(
        buf.next_line(),
        Some(Line::Complete {
            text: b"a\0b\xff\xfe",
            next: b"\xc3\x28\n"
        })
    );
    assert_eq!(
        buf.next_line(),
        Some(Line::Complete {
            text: b"\xc3\x28",
            next: b""
        })
    );
    assert_eq!(buf.next_line(), None);
}

#[test]
fn skip_to_next_line_drops_the_head_silently() {
    let mut buf = LineBuf::new();
    buf.skip_to_next_line();
    buf.fill(&mut &b"ail of a line\nwhole\n"[..]).expect("fill");
    assert_eq!(
        buf.next_line(),
        Some(Line::Complete {
            text: b"whole",
            next: b""
        })
    );
    assert_eq!(buf.next_line(), None);
}

#[test]
fn finish_hands_out_the_tail_once_then_reuses() {
    let mut buf = LineBuf::new();
    buf.fill(&mut &b"no newline"[..]).expect("fill");
    assert_eq!(buf.next_line(), None);
    buf.finish();
    assert_eq!(
        buf.next_line(),
        Some(Line::Complete {
            text: b"no newline",
            next: b""
        })
    );
    assert_eq!(buf.next_line(), None);
    buf.fill(&mut &b"again"[..]).expect("fill");
    assert_eq!(buf.next_line(), None, "finish must not stick");
}

#[test]
fn clear_forgets_discard_mode() {
    let mut buf = LineBuf::with_max_line(4);
    buf.fill(&mut &b"toolong"[..]).expect("fill");
    assert_eq!(buf.next_line(), None);
    buf.clear();
    buf.fill(&mut &b"ok\n"[..]).expect("fill");
    assert_eq!(
        buf.next_line(),
        Some(Line::Complete {
            text: b"ok",
            next: b""
        })
    );
}

/// Issue 13: a backlog is read in big reads, the lines come out as with
/// the usual reads, and after `usual_reads` the buffer gives the memory
/// back at the next fill while keeping a partial line it holds.
#[test]
fn big_reads_split_the_same_and_give_the_memory_back() {
    let mut rng = Rng(13);
    let input = random_input(&mut rng, 3 << 20);
    let mut buf = LineBuf::new();
    buf.big_reads(1 << 20);
    let mut out = Vec::new();
    let mut rest = &input[..input.len() - 100];
    let mut peak = 0;
    while buf.fill(&mut rest).expect("fill from a slice") > 0 {
        peak = peak.max(buf.capacity());
        collect(&mut buf, &mut out);
    }
    assert!(peak >= 1 << 20, "read in big reads: {peak}");
    buf.usual_reads();
    let mut tail = &input[input.len() - 100..];
    while buf.fill(&mut tail).expect("fill from a slice") > 0 {
        assert!(buf.capacity() <= MAX_LINE + READ_MIN, "{}", buf.capacity());
        collect(&mut buf, &mut out);
    }
    buf.finish();
    collect(&mut buf, &mut out);
    assert_eq!(out, oracle(&input, MAX_LINE, true));
}
