#![no_main]
//! Random chunk boundaries give the same lines as a one-shot split.
//!
//! Input: byte 0 picks the line limit, byte 1 seeds the chunk sizes, the
//! rest is the stream.
use libfuzzer_sys::fuzz_target;
use nethergaze::source::linebuf::LineBuf;

fn oracle(input: &[u8], max_line: usize) -> Vec<Option<Vec<u8>>> {
    input
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && *l != b"\r")
        .map(|l| (l.len() <= max_line).then(|| l.to_vec()))
        .collect()
}

fn drain(buf: &mut LineBuf, out: &mut Vec<Option<Vec<u8>>>) {
    while let Some(line) = buf.next_line() {
        out.push(line.text().map(<[u8]>::to_vec));
    }
}

fuzz_target!(|data: &[u8]| {
    let [limit, seed, stream @ ..] = data else {
        return;
    };
    let max_line = usize::from(*limit % 32) + 1;
    let mut state = u32::from(*seed) | 0x100;
    let mut buf = LineBuf::with_max_line(max_line);
    let mut got = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let size = usize::try_from(state >> 16).unwrap_or(1) % 48 + 1;
        let (mut piece, after) = rest.split_at(size.min(rest.len()));
        rest = after;
        while !piece.is_empty() {
            if buf.fill(&mut piece).is_err() {
                panic!("fill failed with lines drained");
            }
            drain(&mut buf, &mut got);
        }
    }
    buf.finish();
    drain(&mut buf, &mut got);
    assert_eq!(got, oracle(stream, max_line));
});
