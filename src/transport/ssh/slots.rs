//! Session slots: sshd allows `MaxSessions` (10 by default) exec channels per connection and
//! says so only by refusing the next one. We learn the limit from the first refusal and then
//! wait for a slot instead of failing the job. A slot is held until the channel closes.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub(crate) struct SessionSlots {
    state: Mutex<State>,
    released: Notify,
}

#[derive(Debug, Default)]
struct State {
    open: usize,
    /// Learned from a refusal; `None` until the server has refused one.
    limit: Option<usize>,
}

/// One open session channel; frees its slot when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<SessionSlots>,
    counted: bool,
}

impl SessionSlots {
    /// Waits until the learned limit allows one more session.
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        loop {
            let notified = self.released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable(); // registered before we look: no lost wake-up
            {
                let mut st = self.state.lock().expect("slots");
                if st.limit.is_none_or(|limit| st.open < limit) {
                    st.open += 1;
                    return Slot {
                        slots: self.clone(),
                        counted: true,
                    };
                }
            }
            notified.await;
        }
    }

    /// The server refused `slot`'s channel. Returns true if other sessions are open, i.e.
    /// the refusal is the session limit and waiting for one of them will help.
    pub fn refused(&self, mut slot: Slot) -> bool {
        slot.counted = false;
        let mut st = self.state.lock().expect("slots");
        st.open -= 1;
        if st.open == 0 {
            return false;
        }
        if st.limit.is_none_or(|limit| st.open < limit) {
            tracing::debug!(
                "the server refused session {}: taking {} as its MaxSessions",
                st.open + 1,
                st.open
            );
            st.limit = Some(st.open);
        }
        true
    }

    /// The limit learned so far.
    pub fn limit(&self) -> Option<usize> {
        self.state.lock().expect("slots").limit
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.counted {
            self.slots.state.lock().expect("slots").open -= 1;
            self.slots.released.notify_waiters();
        }
    }
}
