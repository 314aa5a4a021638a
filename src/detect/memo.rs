//! Verdicts on request strings, kept by interned id so each regex runs once
//! per distinct path or user agent.
//!
//! Paths and user agents repeat heavily and the table interns them, so a
//! verdict is cached under the string's [`StrId`]. The interner frees strings
//! in its sweeps and gives their slots to new strings, so an entry also holds
//! the slot's [`Interner::generation`] when it was filled: an entry of another
//! generation is for a string that is gone, and counts as empty. A string cut
//! at `MAX_STRING` is never cached (its id stands for the cut text, which a
//! longer string with a probe past the cut shares), nor are the placeholders
//! and pinned methods.

use crate::table::{Interner, StrId, MAX_STRING};

/// The checks cached: each owns two bits, "checked" and (the next one up)
/// "yes".
pub(super) const EXPLOIT_PATH: u8 = 1 << 0;
pub(super) const SCANNER_UA: u8 = 1 << 2;
pub(super) const STATIC_ASSET: u8 = 1 << 4;

/// What is known about one interned string.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// The slot's generation these bits are for.
    generation: u32,
    bits: u8,
}

/// One entry per interner slot (a slot index is dense and reused, so this
/// grows to the most strings ever held at once, like the interner's slots).
#[derive(Debug, Default)]
pub(super) struct Memo {
    entries: Vec<Entry>,
}

impl Memo {
    /// What is cached about `text`, interned as `id` in `strings`, for
    /// several checks of one string with one lookup ([`Cached::verdict`]);
    /// nothing when the id does not stand for the whole text.
    pub(super) fn bits(&mut self, strings: &Interner, id: StrId, text: &[u8]) -> Cached<'_> {
        let generation = match strings.generation(id) {
            Some(generation) if text.len() <= MAX_STRING => generation,
            _ => return Cached(None),
        };
        if id.index() >= self.entries.len() {
            // Amortised: the table grows as the interner's slots do.
            self.entries.resize(id.index() + 1, Entry::default());
        }
        let entry = &mut self.entries[id.index()];
        if entry.generation != generation {
            *entry = Entry {
                generation,
                bits: 0,
            };
        }
        Cached(Some(&mut entry.bits))
    }
}

/// The cached verdicts of one string ([`Memo::bits`]), or none (never cached).
pub(super) struct Cached<'a>(Option<&'a mut u8>);

impl Cached<'_> {
    /// The verdict of `check` on the string's `text`: from the cache when
    /// checked before, else checked now (and cached, if there is a cache).
    pub(super) fn verdict(
        &mut self,
        text: &[u8],
        check_bits: u8,
        check: impl FnOnce(&[u8]) -> bool,
    ) -> bool {
        let Some(bits) = self.0.as_deref_mut() else {
            return check(text);
        };
        let (checked, yes) = (check_bits, check_bits << 1);
        if *bits & checked != 0 {
            return *bits & yes != 0;
        }
        let verdict = check(text);
        *bits |= checked | if verdict { yes } else { 0 };
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One check through [`Memo::bits`], as the detector makes it.
    impl Memo {
        /// The verdict of `check` on `text`, interned as `id` in `strings`: from
        /// the cache when this string was checked before, else checked now and
        /// cached when the id stands for the whole text.
        fn verdict(
            &mut self,
            strings: &Interner,
            id: StrId,
            text: &[u8],
            check_bits: u8,
            check: impl FnOnce(&[u8]) -> bool,
        ) -> bool {
            self.bits(strings, id, text)
                .verdict(text, check_bits, check)
        }
    }

    #[test]
    fn a_repeated_string_is_checked_once() {
        let mut strings = Interner::new(1 << 20);
        let mut memo = Memo::default();
        let id = strings.intern(b"/wp-login.php");
        assert!(memo.verdict(&strings, id, b"/wp-login.php", EXPLOIT_PATH, |_| true));
        let again = strings.intern(b"/wp-login.php");
        assert!(
            memo.verdict(&strings, again, b"/wp-login.php", EXPLOIT_PATH, |_| {
                unreachable!("answered from the memo")
            })
        );
        // Each check has its own bits.
        assert!(!memo.verdict(&strings, id, b"/wp-login.php", SCANNER_UA, |_| false));
    }

    /// A sweep frees a string and a new one takes its slot (same id): the
    /// old verdict must not answer for it, either way round.
    #[test]
    fn a_reused_id_is_checked_again() {
        let mut strings = Interner::new(1 << 20);
        let mut memo = Memo::default();
        let probe = strings.intern(b"/.env");
        assert!(memo.verdict(&strings, probe, b"/.env", EXPLOIT_PATH, |_| true));
        assert_eq!(strings.sweep().unmarked, 1);
        let clean = strings.intern(b"/index.html");
        assert_eq!(clean, probe, "the freed slot is reused");
        assert!(!memo.verdict(&strings, clean, b"/index.html", EXPLOIT_PATH, |_| false));
        assert!(
            !memo.verdict(&strings, clean, b"/index.html", EXPLOIT_PATH, |_| {
                unreachable!("answered from the memo")
            })
        );
        strings.sweep();
        let probe = strings.intern(b"/.git/config");
        assert_eq!(probe, clean);
        assert!(memo.verdict(&strings, probe, b"/.git/config", EXPLOIT_PATH, |_| true));
    }

    /// Trimmed (still marked, but the oldest when the store is full): the
    /// same as any freed slot.
    #[test]
    fn a_trimmed_id_is_checked_again() {
        let cap = 64 << 10;
        let mut strings = Interner::new(cap);
        let mut memo = Memo::default();
        let first = strings.intern(format!("/old/{:0>500}", 0).as_bytes());
        assert!(memo.verdict(&strings, first, b"/old/...", EXPLOIT_PATH, |_| true));
        let mut ids = vec![first];
        let mut n = 1;
        while !strings.wants_sweep() {
            ids.push(strings.intern(format!("/old/{n:0>500}").as_bytes()));
            n += 1;
        }
        for &id in &ids {
            strings.mark(id);
        }
        assert!(strings.sweep().trimmed > 0);
        assert!(!strings.is_live(first), "the oldest was trimmed");
        let mut fresh = strings.intern(b"/fresh/0");
        let mut k = 1;
        while fresh != first {
            fresh = strings.intern(format!("/fresh/{k}").as_bytes());
            k += 1;
        }
        assert!(!memo.verdict(&strings, fresh, b"/fresh", EXPLOIT_PATH, |_| false));
    }

    /// Placeholders, pinned methods and cut strings are never cached.
    #[test]
    fn placeholders_and_cut_strings_are_always_checked() {
        let mut strings = Interner::new(1 << 20);
        let mut memo = Memo::default();
        for id in [StrId::EMPTY, StrId::DROPPED, strings.intern(b"GET")] {
            assert!(memo.verdict(&strings, id, b"x", EXPLOIT_PATH, |_| true));
            assert!(!memo.verdict(&strings, id, b"x", EXPLOIT_PATH, |_| false));
        }
        let long = vec![b'a'; MAX_STRING + 1];
        let cut = strings.intern(&long);
        assert!(memo.verdict(&strings, cut, &long, EXPLOIT_PATH, |_| true));
        assert!(!memo.verdict(&strings, cut, &long[..MAX_STRING], EXPLOIT_PATH, |_| false));
    }
}
