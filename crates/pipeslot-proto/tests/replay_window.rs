//! T24: the anti-replay window of remote mail. Whatever order and however
//! often the sequence numbers of one origin arrive, each is accepted at
//! most once, and anything older than the window is refused; a stale
//! epoch is refused, a newer one starts afresh. Checked against a model
//! that remembers every number it ever accepted.

use std::collections::HashSet;

use pipeslot_proto::relay::{Replay, ReplayWindow};
use proptest::prelude::*;

/// What the window must answer, from the whole history: the model keeps
/// every accepted number (no bitmap), the newest epoch and the highest
/// number accepted in it.
#[derive(Default)]
struct Model {
    epoch: Option<u64>,
    highest: u64,
    accepted: HashSet<u64>,
}

impl Model {
    fn check(&mut self, epoch: u64, seq: u64) -> Result<(), Replay> {
        match self.epoch {
            Some(current) if epoch < current => return Err(Replay::StaleEpoch),
            Some(current) if epoch == current => {}
            _ => {
                self.epoch = Some(epoch);
                self.highest = seq;
                self.accepted = HashSet::from([seq]);
                return Ok(());
            }
        }
        if seq > self.highest {
            self.highest = seq;
        } else if self.highest - seq >= ReplayWindow::SIZE {
            return Err(Replay::TooOld);
        } else if self.accepted.contains(&seq) {
            return Err(Replay::Duplicate);
        }
        self.accepted.insert(seq);
        Ok(())
    }
}

/// Sequence numbers around `base`, spread over a few windows, with
/// repeats: `base` is anywhere, up to `u64::MAX`.
fn seqs() -> impl Strategy<Value = Vec<u64>> {
    (
        prop_oneof![Just(0u64), any::<u64>(), Just(u64::MAX - 4096)],
        proptest::collection::vec(0u64..4096, 0..600),
    )
        .prop_map(|(base, offsets)| {
            let base = base.min(u64::MAX - 4096);
            offsets.into_iter().map(|o| base + o).collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    // T24
    #[test]
    fn any_order_and_duplication_is_accepted_at_most_once(seqs in seqs()) {
        let mut window = ReplayWindow::new();
        let mut model = Model::default();
        let mut delivered = HashSet::new();
        for &seq in &seqs {
            let verdict = window.check(5, seq);
            prop_assert_eq!(verdict, model.check(5, seq), "seq {}", seq);
            if verdict.is_ok() {
                prop_assert!(delivered.insert(seq), "seq {} accepted twice", seq);
            }
        }
    }

    // T24
    #[test]
    fn a_permutation_within_the_window_is_accepted_once_each(
        base in 0u64..u64::MAX - ReplayWindow::SIZE,
        order in Just((0..ReplayWindow::SIZE).collect::<Vec<u64>>()).prop_shuffle(),
        again in proptest::collection::vec(0..ReplayWindow::SIZE, 1..64),
    ) {
        let mut window = ReplayWindow::new();
        for &offset in &order {
            prop_assert_eq!(window.check(1, base + offset), Ok(()));
        }
        for &offset in &again {
            prop_assert_eq!(window.check(1, base + offset), Err(Replay::Duplicate));
        }
    }

    // T24
    #[test]
    fn anything_older_than_the_window_is_refused(
        highest in ReplayWindow::SIZE..u64::MAX,
        seen in proptest::collection::vec(any::<u64>(), 0..32),
        old in any::<u64>(),
    ) {
        let mut window = ReplayWindow::new();
        window.check(3, highest).unwrap();
        for seq in seen {
            let _ = window.check(3, seq.min(highest));
        }
        let old = old % (highest - ReplayWindow::SIZE + 1);
        prop_assert_eq!(window.check(3, old), Err(Replay::TooOld));
        // Just below the window, the edge.
        prop_assert_eq!(window.check(3, highest - ReplayWindow::SIZE), Err(Replay::TooOld));
        // The oldest number still inside the window was never seen: accepted.
        let oldest = highest - ReplayWindow::SIZE + 1;
        let mut fresh = ReplayWindow::new();
        fresh.check(3, highest).unwrap();
        prop_assert_eq!(fresh.check(3, oldest), Ok(()));
    }

    // T24
    #[test]
    fn stale_epochs_are_refused_and_newer_ones_start_afresh(
        frames in proptest::collection::vec((0u64..4, 0u64..2048), 0..400),
    ) {
        let mut window = ReplayWindow::new();
        let mut model = Model::default();
        let mut delivered = HashSet::new();
        for (epoch, seq) in frames {
            let verdict = window.check(epoch, seq);
            prop_assert_eq!(verdict, model.check(epoch, seq), "({}, {})", epoch, seq);
            if verdict.is_ok() {
                prop_assert!(delivered.insert((epoch, seq)), "({}, {}) accepted twice", epoch, seq);
            }
            prop_assert_eq!(window.latest().map(|(e, _)| e), model.epoch);
        }
    }
}

// T24
#[test]
fn the_window_slides_by_any_distance() {
    for step in [1, 63, 64, 65, 127, 128, 1000, 1023, 1024, 1025, 5000] {
        let mut window = ReplayWindow::new();
        // Every number of a full window, then a jump of `step`.
        for seq in 0..ReplayWindow::SIZE {
            window.check(9, seq).unwrap();
        }
        let top = ReplayWindow::SIZE - 1 + step;
        window.check(9, top).unwrap();
        for seq in 0..=top {
            let expected = if top - seq >= ReplayWindow::SIZE {
                Err(Replay::TooOld)
            } else if seq < ReplayWindow::SIZE || seq == top {
                Err(Replay::Duplicate)
            } else {
                Ok(())
            };
            assert_eq!(window.check(9, seq), expected, "step {step}, seq {seq}");
        }
    }
}
