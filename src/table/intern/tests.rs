use super::*;

#[test]
fn dedupes_and_sweeps_what_is_not_marked() {
    let mut i = Interner::new(1 << 20);
    let a = i.intern(b"/index.html");
    let b = i.intern(b"/index.html");
    let c = i.intern(b"/gone");
    assert_eq!(a, b);
    assert_eq!(i.len(), 2);
    i.mark(a);
    assert_eq!(i.sweep().unmarked, 1);
    assert_eq!(i.get(a), b"/index.html");
    assert_eq!(i.len(), 1);
    assert_eq!(i.bytes_held(), "/index.html".len() + STRING_OVERHEAD);
    // `c`'s slot is reused by a new string; the old text is not found.
    let d = i.intern(b"/new");
    assert_eq!(d, c);
    assert_eq!(i.get(d), b"/new");
    // Unmarked in the next sweep: everything dynamic goes.
    assert_eq!(i.sweep().unmarked, 2);
    assert_eq!(i.len(), 0);
    assert_eq!(
        i.get(StrId(2)),
        b"GET",
        "pinned strings survive every sweep"
    );
}

/// A freed slot given to a new string has a new generation, so a cache
/// keyed by id and generation never answers for the old string.
#[test]
fn a_reused_slot_has_a_new_generation() {
    let mut i = Interner::new(1 << 20);
    let a = i.intern(b"/a");
    let born = i.generation(a).unwrap();
    let hit = i.intern(b"/a");
    assert_eq!(i.generation(hit), Some(born), "a hit is the same string");
    i.sweep();
    assert_eq!(i.generation(a), None, "freed");
    let b = i.intern(b"/b");
    assert_eq!(b, a);
    assert_ne!(i.generation(b), Some(born));
    for placeholder in [StrId::EMPTY, StrId::DROPPED, i.intern(b"GET")] {
        assert_eq!(i.generation(placeholder), None);
    }
}

#[test]
fn bounded_by_bytes_and_length() {
    let mut i = Interner::new(10_000);
    let long = vec![b'a'; 5000];
    let id = i.intern(&long);
    assert_eq!(i.get(id).len(), MAX_STRING);
    let mut dropped = 0;
    for n in 0..10_000 {
        if i.intern(format!("/unique/{n}").as_bytes()) == StrId::DROPPED {
            dropped += 1;
        }
    }
    assert!(dropped > 9000);
    assert!(i.bytes_held() <= 10_000);
    assert!(i.wants_sweep());
    i.sweep();
    assert_eq!(i.bytes_held(), 0);
    assert_ne!(i.intern(b"/after-sweep"), StrId::DROPPED);
    assert_eq!(i.get(StrId::DROPPED), "…".as_bytes());
}

/// Issue 9, item 3: when the marked strings fill the store, a sweep
/// frees the least recently interned ones, so new strings find room.
#[test]
fn a_full_store_of_marked_strings_trims_the_oldest() {
    let cap = 64 << 10;
    let mut i = Interner::new(cap);
    let mut ids = Vec::new();
    let mut n = 0;
    while !i.wants_sweep() {
        ids.push(i.intern(format!("/old/{n:0>500}").as_bytes()));
        n += 1;
    }
    // One old string is used again: it is as young as the newest.
    let reused = ids[0];
    assert_eq!(i.intern(format!("/old/{:0>500}", 0).as_bytes()), reused);
    for &id in &ids {
        i.mark(id);
    }
    let swept = i.sweep();
    assert_eq!(swept.unmarked, 0);
    assert!(swept.trimmed > 0 && i.bytes_held() <= cap / 2, "{swept:?}");
    assert!(i.is_live(reused), "the reused string is recent");
    assert!(i.is_live(*ids.last().unwrap()), "the newest is kept");
    assert!(!i.is_live(ids[1]), "the oldest went");
    let kept = ids.iter().filter(|&&id| i.is_live(id)).count();
    assert_eq!(kept, ids.len() - swept.trimmed);
    // New strings are interned again, not dropped.
    let fresh = i.intern(b"/new/after/the/trim");
    assert_ne!(fresh, StrId::DROPPED);
    assert_eq!(i.get(fresh), b"/new/after/the/trim");
}

/// The cache of recent answers never answers for a string that is gone:
/// after a sweep frees a string and its slot goes to another, both are
/// looked up by their text again.
#[test]
fn recent_answers_follow_freed_and_reused_slots() {
    let mut i = Interner::new(1 << 20);
    let old = i.intern(b"/gone");
    assert_eq!(i.intern(b"/gone"), old, "a repeat is answered");
    i.sweep(); // unmarked: freed
    let reused = i.intern(b"/new-string-in-the-old-slot");
    assert_eq!(reused, old, "the freed slot is reused");
    assert_eq!(i.get(reused), b"/new-string-in-the-old-slot");
    let again = i.intern(b"/gone");
    assert_ne!(again, reused);
    assert_eq!(i.get(again), b"/gone");
    assert_eq!(i.intern(b"/new-string-in-the-old-slot"), reused);
    // Texts that share their first and last eight bytes and their length
    // are told apart by their full text.
    let a = i.intern(b"/aaaaaaaa-1-zzzzzzzz");
    let b = i.intern(b"/aaaaaaaa-2-zzzzzzzz");
    assert_ne!(a, b);
    assert_eq!(i.intern(b"/aaaaaaaa-1-zzzzzzzz"), a);
    assert_eq!(i.intern(b"/aaaaaaaa-2-zzzzzzzz"), b);
}

/// Two texts whose keyed hashes share the 32 bits the index keeps (found
/// by a birthday search, a few hundred thousand texts): each entry is
/// confirmed on its slot's bytes, so both texts keep their own id, and
/// freeing one leaves the other's entry alone.
#[test]
fn texts_sharing_the_kept_hash_bits_are_told_apart_by_their_bytes() {
    let mut strings = Interner::new(1 << 20);
    let (a, b) = colliding_pair(&strings);
    assert_eq!(strings.hash_of(&a), strings.hash_of(&b));
    let first = strings.intern(&a);
    let second = strings.intern(&b);
    assert_ne!(first, second);
    let hash = strings.hash_of(&a);
    let found = |s: &Interner, text: &[u8]| {
        s.by_hash
            .find(hash, |id| s.get(StrId::of_slot(id)) == text)
            .map(StrId::of_slot)
    };
    assert_eq!(found(&strings, &a), Some(first));
    assert_eq!(found(&strings, &b), Some(second));
    strings.free_slot(first.index());
    assert_eq!(found(&strings, &a), None, "the entry goes with its slot");
    assert_eq!(found(&strings, &b), Some(second));
    assert_eq!(strings.get(second), &b[..]);
    assert!(!strings.is_live(first));
}

/// Two paths whose hashes under `strings`' key share their low 32 bits.
fn colliding_pair(strings: &Interner) -> (Vec<u8>, Vec<u8>) {
    let mut seen = std::collections::HashMap::new();
    for n in 0u32.. {
        let text = format!("/p{n}").into_bytes();
        if let Some(other) = seen.insert(strings.hash_of(&text), text.clone()) {
            return (other, text);
        }
    }
    unreachable!("2^32 texts hold a collision of 32 bits")
}

/// Ids are 16 bits: with a cap that would admit more strings than that
/// (the table's never does), the ones past `MAX_SLOTS` are refused as if
/// the store were full, and every id given reads back its own text.
#[test]
fn strings_past_the_last_id_are_refused() {
    let mut strings = Interner::new(1 << 30);
    let ids: Vec<StrId> = (0..MAX_SLOTS + 100)
        .map(|n| strings.intern(format!("/{n}").as_bytes()))
        .collect();
    let dropped = ids.iter().filter(|&&id| id == StrId::DROPPED).count();
    assert_eq!(dropped, 100 + FIRST_DYNAMIC as usize);
    for (n, id) in ids
        .iter()
        .enumerate()
        .filter(|(_, &id)| id != StrId::DROPPED)
    {
        assert_eq!(strings.get(*id), format!("/{n}").as_bytes());
    }
}

/// Issue 13: the cache of recent answers holds what repeats. Three
/// browsers' user agents of one length that differ only in a version in
/// their middle (they share their first and last words) don't push each
/// other out, and a flood of strings seen once doesn't push them out.
#[test]
fn repeats_stay_cached_through_lookalikes_and_one_offs() {
    let mut i = Interner::new(6 << 20);
    let chrome = |version: u32| {
        format!(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/{version}.0.0.0 Safari/537.36"
        )
    };
    let agents = [chrome(129), chrome(130), chrome(131), "/index.html".into()];
    // Seen twice: in the index, then in the cache.
    for _ in 0..2 {
        for agent in &agents {
            i.intern(agent.as_bytes());
        }
    }
    let before = i.uncached;
    for n in 0..10_000 {
        i.intern(format!("/search?q={n}").as_bytes());
        let agent = &agents[n % agents.len()];
        let id = i.intern(agent.as_bytes());
        assert_eq!(i.get(id), agent.as_bytes());
    }
    assert_eq!(
        i.uncached - before,
        10_000,
        "only the strings seen once went past the cache"
    );
}

/// Marks are bits, a word per 64 slots added as slots are: marks in every
/// word keep their strings, the rest go, and a sweep clears every mark.
#[test]
fn marks_in_every_word_of_the_bitset_keep_their_strings() {
    let mut i = Interner::new(1 << 20);
    let ids: Vec<StrId> = (0..200)
        .map(|n| i.intern(format!("/s{n}").as_bytes()))
        .collect();
    for id in ids.iter().step_by(3) {
        i.mark(*id);
    }
    assert_eq!(i.sweep().unmarked, 200 - 67);
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(i.is_live(*id), n % 3 == 0, "string {n}");
    }
    assert_eq!(i.sweep().unmarked, 67, "the last sweep's marks are gone");
}
