//! Open connections per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Counts open connections per address; a connection holds a [`ConnectionPermit`] for its
/// lifetime, and dropping the permit gives the slot back.
#[derive(Clone, Default)]
pub struct ConnectionLimiter {
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// One open connection's slot; released on drop.
pub struct ConnectionPermit {
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
    address: IpAddr,
}

impl ConnectionLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Take a slot for `address` if it has fewer than `max` connections open.
    pub fn try_acquire(&self, address: IpAddr, max: u32) -> Option<ConnectionPermit> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(address).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(ConnectionPermit {
            open: Arc::clone(&self.open),
            address,
        })
    }

    /// Connections open now from `address`.
    pub fn open_from(&self, address: IpAddr) -> u32 {
        let open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        open.get(&address).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_limited_per_address_and_come_back_on_drop() {
        let limiter = ConnectionLimiter::new();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = limiter.try_acquire(a, 2).unwrap();
        let _second = limiter.try_acquire(a, 2).unwrap();
        assert!(limiter.try_acquire(a, 2).is_none());
        assert!(limiter.try_acquire(b, 2).is_some());
        drop(first);
        assert_eq!(limiter.open_from(a), 1);
        assert!(limiter.try_acquire(a, 2).is_some());
    }
}
