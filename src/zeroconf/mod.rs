//! Zeroconf, as distcc 3.4 does it (`zeroconf-reg.c`, `zeroconf.c`): a server started with
//! `--zeroconf` announces itself over mDNS/DNS-SD; `+zeroconf` in a client's host list
//! stands for the servers found whose compiler matches this machine's.
//!
//! The wire facts, so that distccd, distcc clients and distfarm find each other both ways:
//!
//! * Service `_distcc._tcp`, instance `distcc@<hostname>`, the daemon's port, TXT
//!   `txtvers=1 cpus=N jobs=N distcc=… gnuhost=… cc_version=… cc_machine=…`
//!   ([`txt`]), and the subtype `_<machine>--<version>._sub._distcc._tcp` that distcc's
//!   clients browse ([`identity`]). Version and machine are `cc -dumpversion` and
//!   `cc -dumpmachine` on both sides.
//! * A client keeps the servers found in `<DISTCC_DIR>/zeroconf/hosts` (`ADDR:PORT/JOBS`
//!   lines), kept current by one background browser per `DISTCC_DIR` that holds an `fcntl`
//!   lock on `<DISTCC_DIR>/zeroconf/lock` and exits once the hosts file has not been read
//!   for 20 s ([`cache`], [`keeper`]). A distcc client and a distfarm client sharing a
//!   `DISTCC_DIR` use each other's browser and file.
//!
//! | file | job |
//! |---|---|
//! | `identity` | the compiler identity (`cc -dumpversion`, `-dumpmachine`) and the subtype |
//! | `txt` | what an announcement says, what a found server said, and whether it fits |
//! | `announce` | `serve --zeroconf`: register, withdraw on exit |
//! | `browse` | watching `_distcc._tcp` and keeping what is there |
//! | `cache` | distcc's lock and hosts files |
//! | `keeper` | the background browser process that keeps the hosts file current |
//! | `recheck` | fresh looks that drop a server which vanished without a goodbye |
//! | `discovered` | the client's side: make sure a browser runs, read its file |

pub mod announce;
pub mod browse;
pub mod cache;
pub mod discovered;
pub mod identity;
pub mod keeper;
pub mod recheck;
pub mod txt;

/// The DNS-SD service type (`DCC_DNS_SERVICE_TYPE`), with mdns-sd's domain.
pub const SERVICE_TYPE: &str = "_distcc._tcp.local.";

/// mDNS errors, said with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum ZeroconfError {
    #[error("cannot start mDNS (zeroconf): {0}")]
    Start(String),
    #[error("cannot announce {name} over mDNS: {reason}")]
    Announce { name: String, reason: String },
    #[error("cannot browse {SERVICE_TYPE} over mDNS: {0}")]
    Browse(String),
}
