//! Rate limits on mailslot messages between hosts (threat T25): token
//! buckets, one per local writer uid at the sending gateway and one per
//! origin host at the receiving gateway ([`crate::relay`]).
//!
//! A bucket holds at most `burst` tokens and gains `per_second` of them
//! each second; a message takes one, and a message that finds none is
//! dropped and counted ([`crate::relay::MailStats`]). Writers never wait:
//! a mailslot write is at most once, here as everywhere in the gateway.
//!
//! The defaults ([`MailRate::DEFAULT`]: 10,000 messages a second, bursts
//! of 1,000) leave ordinary use alone — an announcement every few
//! seconds, a burst of a few hundred notices — and bound what one user's
//! loop, or one host, makes every member of the domain receive: at most
//! 10,000 messages of at most 424 bytes a second, about 4 MiB/s, per
//! writer uid and per origin host. One writer going as fast as it can
//! (86k messages/s, `benches/remote.rs` of pipeslot-cli) gets 10,000 a
//! second, plus the first burst, through to each member.

use std::time::Instant;

/// A rate: `per_second` tokens gained each second, at most `burst` held
/// (a full bucket lets `burst` messages through at once).
///
/// ```
/// use pipeslot_gateway::rate::MailRate;
///
/// assert_eq!(MailRate::DEFAULT, MailRate { per_second: 10_000, burst: 1_000 });
/// let trickle = MailRate { per_second: 1, burst: 5 };
/// assert!(trickle.per_second < MailRate::DEFAULT.per_second);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailRate {
    /// Tokens (messages) gained per second.
    pub per_second: u32,
    /// The most tokens a bucket holds, and so the longest burst.
    pub burst: u32,
}

impl MailRate {
    /// 10,000 messages a second, bursts of 1,000 (see the
    /// [module docs](self)).
    pub const DEFAULT: MailRate = MailRate {
        per_second: 10_000,
        burst: 1_000,
    };
}

impl Default for MailRate {
    fn default() -> Self {
        MailRate::DEFAULT
    }
}

/// One token bucket: takes a token per message, refills with time. Sans
/// I/O: the caller says what time it is.
///
/// ```
/// use std::time::{Duration, Instant};
/// use pipeslot_gateway::rate::{MailRate, TokenBucket};
///
/// let start = Instant::now();
/// let mut bucket = TokenBucket::new(MailRate { per_second: 10, burst: 3 }, start);
/// // Full at first: a burst of 3, then nothing.
/// assert!((0..3).all(|_| bucket.take(start)));
/// assert!(!bucket.take(start));
/// // A tenth of a second later, one more token.
/// assert!(bucket.take(start + Duration::from_millis(100)));
/// assert!(!bucket.take(start + Duration::from_millis(100)));
/// // Idle long enough, it is full again, and no fuller.
/// let later = start + Duration::from_secs(60);
/// assert!(bucket.is_full(later));
/// assert_eq!((0..10).filter(|_| bucket.take(later)).count(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: MailRate,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate`, at `now`.
    pub fn new(rate: MailRate, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            tokens: f64::from(rate.burst),
            last: now,
        }
    }

    /// Takes a token if there is one: `true` lets a message through,
    /// `false` drops it. A `now` earlier than the last call counts as no
    /// time passed.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket is full at `now` (so as good as a new one: a map
    /// of buckets may forget it).
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= f64::from(self.rate.burst)
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        let burst = f64::from(self.rate.burst);
        self.tokens = (self.tokens + elapsed * f64::from(self.rate.per_second)).min(burst);
    }
}
