#![no_main]
//! Random read boundaries give the same keys as one read, and the decoder
//! never holds more than its cap.
//!
//! Input: byte 0 seeds the piece sizes, the rest is the tty stream.
use libfuzzer_sys::fuzz_target;
use nethergaze::ui::input::{Key, KeyDecoder, MAX_PENDING};

fn decode(pieces: &mut dyn Iterator<Item = &[u8]>) -> Vec<Key> {
    let mut d = KeyDecoder::new();
    let mut keys = Vec::new();
    for piece in pieces {
        d.feed(piece, &mut |k| keys.push(k));
        assert!(d.buffered() <= MAX_PENDING);
    }
    d.flush_timeout(&mut |k| keys.push(k));
    keys
}

fuzz_target!(|data: &[u8]| {
    let [seed, stream @ ..] = data else {
        return;
    };
    let mut state = u32::from(*seed) | 0x100;
    let mut rest = stream;
    let mut pieces = Vec::new();
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let size = usize::try_from(state >> 16).unwrap_or(1) % 9 + 1;
        let (piece, after) = rest.split_at(size.min(rest.len()));
        pieces.push(piece);
        rest = after;
    }
    let whole = decode(&mut std::iter::once(stream));
    assert_eq!(decode(&mut pieces.into_iter()), whole);
});
