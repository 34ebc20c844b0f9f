//! `+zeroconf` through the agent: one browser thread (`zeroconf/keeper.rs`) keeps
//! `<DISTCC_DIR>/zeroconf/hosts` equal to the matching servers on the LAN while builds read
//! it, so the process that schedules a user's jobs also watches the network, and no other
//! background process is needed. It holds distcc's browser lock, so a distcc client sharing
//! the `DISTCC_DIR` reads the same file instead of browsing itself.

use std::sync::Mutex;

use tokio::sync::watch;

use crate::protocol::agent::BrowseRequest;
use crate::zeroconf::{cache, identity::CompilerIdentity, keeper};

/// `None` until the browser's first list is written (`Ok`) or it could not start (`Err`).
type FirstList = Option<Result<(), String>>;

/// The agent's browser, if one runs.
#[derive(Default)]
pub struct Browsing {
    /// The running browser thread's news; its sender goes when the thread ends.
    current: Mutex<Option<watch::Receiver<FirstList>>>,
}

impl Browsing {
    /// Whether the browser thread runs (the agent is not idle while it does).
    pub fn running(&self) -> bool {
        let current = self.current.lock().expect("browsing state");
        current
            .as_ref()
            .is_some_and(|news| news.has_changed().is_ok())
    }

    /// Makes sure a browser runs for the request's `DISTCC_DIR` and waits for its first list.
    pub async fn answer(&self, request: BrowseRequest) -> Result<(), String> {
        let mut news = self.start_unless_running(request);
        match news.wait_for(Option::is_some).await {
            Ok(first) => first.clone().expect("waited for Some"),
            Err(_) => Err("the browser stopped before its first list".into()),
        }
    }

    fn start_unless_running(&self, request: BrowseRequest) -> watch::Receiver<FirstList> {
        let mut current = self.current.lock().expect("browsing state");
        if let Some(news) = current.as_ref()
            && news.has_changed().is_ok()
        {
            return news.clone();
        }
        let (tell, news) = watch::channel(None);
        std::thread::spawn(move || browse(request, tell));
        *current = Some(news.clone());
        news
    }
}

/// The browser thread: until no build has read the list for a while.
fn browse(request: BrowseRequest, tell: watch::Sender<FirstList>) {
    let distcc_dir = std::path::PathBuf::from(request.distcc_dir);
    let ended = match cache::dir(&distcc_dir) {
        Ok(dir) => {
            let identity = CompilerIdentity::of_cc(request.path.as_deref());
            let mut say_ready = || {
                tell.send_replace(Some(Ok(())));
            };
            keeper::run(&dir, identity, &mut say_ready)
        }
        Err(e) => Err(format!("{}/zeroconf: {e}", distcc_dir.display())),
    };
    match ended {
        Ok(()) => tracing::info!("agent: zeroconf browsing ended"),
        Err(e) => {
            tracing::error!("agent: zeroconf browser: {e}");
            // A first list already given stays given; otherwise the waiting wrappers learn why.
            tell.send_if_modified(|first| {
                if first.is_some() {
                    return false;
                }
                *first = Some(Err(e));
                true
            });
        }
    }
}
