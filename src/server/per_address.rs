//! Connections held per client address (`--max-per-address`): one machine, hostile or only
//! misconfigured, cannot take every connection slot of a server that others use too.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

pub struct PerAddress {
    limit: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its address's count, given back when dropped.
pub struct AddressSlot {
    owner: Arc<PerAddress>,
    addr: IpAddr,
}

impl PerAddress {
    pub fn new(limit: usize) -> Arc<PerAddress> {
        Arc::new(PerAddress {
            limit: limit.max(1),
            held: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more connection from `addr`, or `None` when it holds `limit` already.
    pub fn admit(self: &Arc<Self>, addr: IpAddr) -> Option<AddressSlot> {
        let mut held = self.held.lock().expect("never poisoned");
        let count = held.entry(addr).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            owner: self.clone(),
            addr,
        })
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut held = self.owner.held.lock().expect("never poisoned");
        if let Some(count) = held.get_mut(&self.addr) {
            *count -= 1;
            if *count == 0 {
                // Forget the address: the map holds only addresses with connections.
                held.remove(&self.addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_limit_and_each_closed_connection_frees_one() {
        let per_address = PerAddress::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = per_address.admit(a).unwrap();
        let _second = per_address.admit(a).unwrap();
        assert!(per_address.admit(a).is_none());
        assert!(
            per_address.admit(b).is_some(),
            "other addresses are not counted"
        );
        drop(first);
        assert!(per_address.admit(a).is_some());
    }
}
