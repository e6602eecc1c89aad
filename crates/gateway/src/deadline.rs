//! Response deadlines of one worker's upstream exchanges, checked by a sweep rather than
//! armed as a timer in Tokio's wheel per request.
//!
//! A Tokio timer per request cost about 1,000 instructions (registration in the wheel under
//! the driver's lock, a look at each poll, removal when the answer came first, and the wheel's
//! upkeep at each turn of the event loop); nearly every such timer is cancelled unexpired.
//! Here a deadline is a slot in a list: set once (a lock, a waker clone), looked at when the
//! exchange is polled, freed when it ends. [`Deadlines::sweep`], called every
//! [`SWEEP_PERIOD`] by the gateway's upkeep task, wakes the exchanges whose deadline has
//! passed: a response timeout fires at most one period after it expires.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How often [`Deadlines::sweep`] runs (the gateway's upkeep tick): how late a response
/// timeout may fire.
pub(crate) const SWEEP_PERIOD: Duration = Duration::from_millis(100);

/// The response deadlines of one worker's exchanges.
#[derive(Default)]
pub(crate) struct Deadlines {
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    slots: Vec<Slot>,
    /// Indexes of free slots.
    free: Vec<usize>,
}

struct Slot {
    at: Instant,
    /// `None`: the slot is free.
    waker: Option<Waker>,
    expired: bool,
}

impl Deadlines {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A deadline `after` from its first poll: it completes once a sweep has seen it pass.
    pub(crate) fn expiry(&self, after: Duration) -> Expiry<'_> {
        Expiry {
            deadlines: self,
            from: None,
            after,
            slot: None,
        }
    }

    /// A deadline `after` from `from`, a clock reading the caller already has.
    pub(crate) fn expiry_from(&self, from: Instant, after: Duration) -> Expiry<'_> {
        Expiry {
            from: Some(from),
            ..self.expiry(after)
        }
    }

    /// Wake every exchange whose deadline has passed.
    pub(crate) fn sweep(&self, now: Instant) {
        let mut expired = Vec::new();
        {
            let mut slots = self.lock();
            for slot in &mut slots.slots {
                if !slot.expired
                    && slot.at <= now
                    && let Some(waker) = &slot.waker
                {
                    slot.expired = true;
                    expired.push(waker.clone());
                }
            }
        }
        // Woken outside the lock: a waker may run its task's scheduling code.
        for waker in expired {
            waker.wake();
        }
    }

    /// How many deadlines are set (tests).
    #[cfg(test)]
    fn set(&self) -> usize {
        let slots = self.lock();
        slots.slots.len() - slots.free.len()
    }
}

/// A response deadline (see [`Deadlines::expiry`]); its slot is freed when it is dropped.
pub(crate) struct Expiry<'d> {
    deadlines: &'d Deadlines,
    /// Where `after` counts from (`None`: the first poll).
    from: Option<Instant>,
    after: Duration,
    slot: Option<usize>,
}

impl Future for Expiry<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut slots = this.deadlines.lock();
        match this.slot {
            Some(index) => {
                let slot = &mut slots.slots[index];
                if slot.expired {
                    return Poll::Ready(());
                }
                if let Some(waker) = &mut slot.waker
                    && !waker.will_wake(cx.waker())
                {
                    waker.clone_from(cx.waker());
                }
            }
            None => {
                let slot = Slot {
                    at: this.from.unwrap_or_else(Instant::now) + this.after,
                    waker: Some(cx.waker().clone()),
                    expired: false,
                };
                let index = match slots.free.pop() {
                    Some(index) => {
                        slots.slots[index] = slot;
                        index
                    }
                    None => {
                        slots.slots.push(slot);
                        slots.slots.len() - 1
                    }
                };
                this.slot = Some(index);
            }
        }
        Poll::Pending
    }
}

impl Drop for Expiry<'_> {
    fn drop(&mut self) {
        if let Some(index) = self.slot {
            let mut slots = self.deadlines.lock();
            let slot = &mut slots.slots[index];
            let waker = slot.waker.take();
            slot.expired = false;
            slots.free.push(index);
            drop(slots);
            drop(waker);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct CountWakes(AtomicUsize);

    impl std::task::Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_deadline_fires_at_the_first_sweep_after_it_passes_and_frees_its_slot() {
        let deadlines = Deadlines::default();
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        let start = Instant::now();
        let mut short = Box::pin(deadlines.expiry(Duration::from_millis(50)));
        let mut long = Box::pin(deadlines.expiry(Duration::from_secs(60)));
        assert!(short.as_mut().poll(&mut cx).is_pending());
        assert!(long.as_mut().poll(&mut cx).is_pending());
        assert_eq!(deadlines.set(), 2);

        // Not yet passed: nothing is woken, nothing completes.
        deadlines.sweep(start);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
        assert!(short.as_mut().poll(&mut cx).is_pending());

        // Passed: the short one is woken once and completes; the long one does not.
        deadlines.sweep(start + Duration::from_secs(1));
        deadlines.sweep(start + Duration::from_secs(2));
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(short.as_mut().poll(&mut cx).is_ready());
        assert!(long.as_mut().poll(&mut cx).is_pending());

        // Dropped deadlines free their slots, which the next ones take.
        drop(short);
        drop(long);
        assert_eq!(deadlines.set(), 0);
        let mut again = Box::pin(deadlines.expiry(Duration::from_secs(60)));
        assert!(again.as_mut().poll(&mut cx).is_pending());
        deadlines.sweep(start + Duration::from_secs(2));
        assert!(again.as_mut().poll(&mut cx).is_pending());
        assert_eq!(deadlines.set(), 1);
    }

    #[test]
    fn an_unpolled_deadline_has_no_slot_and_a_passed_one_is_ready_after_a_sweep() {
        let deadlines = Deadlines::default();
        let unpolled = deadlines.expiry(Duration::ZERO);
        assert_eq!(deadlines.set(), 0);
        drop(unpolled);
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        let mut zero = Box::pin(deadlines.expiry(Duration::ZERO));
        assert!(zero.as_mut().poll(&mut cx).is_pending());
        deadlines.sweep(Instant::now());
        assert!(zero.as_mut().poll(&mut cx).is_ready());
    }
}
