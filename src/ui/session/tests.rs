use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn first_frame_is_drawn_at_once() {
    assert_eq!(frame_wait(None, false), Duration::ZERO);
    assert_eq!(frame_wait(None, true), Duration::ZERO);
}

#[test]
fn a_key_gets_the_next_frame_after_the_short_gap() {
    // Quiet screen: at once.
    assert_eq!(frame_wait(Some(ms(100)), true), Duration::ZERO);
    assert_eq!(frame_wait(Some(ms(5_000)), true), Duration::ZERO);
    // Just after a data frame: the rest of MIN_FRAME_GAP, not of the data gap.
    assert_eq!(frame_wait(Some(ms(30)), true), ms(70));
    assert_eq!(frame_wait(Some(ms(150)), true), Duration::ZERO);
}

#[test]
fn data_only_frames_wait_the_longer_gap() {
    assert_eq!(frame_wait(Some(ms(100)), false), ms(150));
    assert_eq!(frame_wait(Some(ms(249)), false), ms(1));
    assert_eq!(frame_wait(Some(ms(250)), false), Duration::ZERO);
    assert!(DATA_FRAME_GAP > MIN_FRAME_GAP);
}
