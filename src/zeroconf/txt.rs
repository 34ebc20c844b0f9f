//! What an announcement says (distccd's TXT record) and what a client makes of a server it
//! found: its slots by distcc's rules, and whether its compiler fits this machine.

use std::net::IpAddr;

use super::identity::CompilerIdentity;

/// The distcc release whose protocol and announcement we follow (the TXT key `distcc`).
pub const DISTCC_VERSION: &str = "3.4";

/// The TXT record of `distccd --zeroconf` (`zeroconf-reg.c register_stuff`), in its order,
/// plus `distfarm=VERSION`, which distcc ignores and `distfarm doctor` shows. Without a
/// compiler identity the `cc_*` keys are left out, as distccd does.
pub fn properties(
    cpus: usize,
    jobs: usize,
    identity: Option<&CompilerIdentity>,
) -> Vec<(String, String)> {
    let mut txt = vec![
        ("txtvers".to_string(), "1".to_string()),
        ("cpus".to_string(), cpus.to_string()),
        ("jobs".to_string(), jobs.to_string()),
        ("distcc".to_string(), DISTCC_VERSION.to_string()),
    ];
    // distccd puts its build's host triple here; the compiler's target is the nearest.
    if let Some(identity) = identity {
        txt.push(("gnuhost".into(), identity.machine.clone()));
        txt.push(("cc_version".into(), identity.version.clone()));
        txt.push(("cc_machine".into(), identity.machine.clone()));
    }
    txt.push(("distfarm".into(), env!("CARGO_PKG_VERSION").into()));
    txt
}

/// A server seen on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundServer {
    /// The instance name, e.g. `distcc@buildbox`.
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub port: u16,
    /// Slots, by distcc's rule (`zeroconf.c resolve_reply`): TXT `jobs`; a `jobs` of 0 or
    /// less means `cpus + 2`; no `jobs` key at all means 4.
    pub jobs: u32,
    pub cc_version: Option<String>,
    pub cc_machine: Option<String>,
    /// `distfarm=VERSION` when the server is distfarm; else `distcc=VERSION` if given.
    pub software: Option<String>,
}

/// Whether a found server is used, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Used,
    OtherVersion {
        theirs: String,
        ours: String,
    },
    OtherMachine {
        theirs: String,
        ours: String,
    },
    /// It did not say which compiler it has (distccd could not run `cc`): distcc's clients
    /// never see it either (it registers no subtype).
    NoCompiler,
    /// Resolved to no address we can connect to.
    NoAddress,
}

impl Verdict {
    /// Why it is not used, in words (`None` when it is).
    pub fn reason(&self) -> Option<String> {
        match self {
            Verdict::Used => None,
            Verdict::OtherVersion { theirs, ours } => Some(format!(
                "its compiler is version {theirs}, this machine's cc is {ours}"
            )),
            Verdict::OtherMachine { theirs, ours } => Some(format!(
                "its compiler builds for {theirs}, this machine's cc for {ours}"
            )),
            Verdict::NoCompiler => {
                Some("it did not announce its compiler (no cc_version/cc_machine)".into())
            }
            Verdict::NoAddress => Some("it resolved to no usable address".into()),
        }
    }
}

impl FoundServer {
    /// From a resolved service's parts; TXT keys are matched without case, as DNS-SD says.
    pub fn from_txt<'a>(
        name: &str,
        mut addresses: Vec<IpAddr>,
        port: u16,
        txt: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> FoundServer {
        let (mut cpus, mut jobs, mut jobs_given) = (1i64, 4i64, None);
        let (mut cc_version, mut cc_machine, mut distcc, mut distfarm) = (None, None, None, None);
        for (key, value) in txt {
            match key.to_ascii_lowercase().as_str() {
                "cpus" => cpus = crate::config::atoi(value),
                "jobs" => jobs_given = Some(crate::config::atoi(value)),
                "cc_version" => cc_version = Some(value.to_string()),
                "cc_machine" => cc_machine = Some(value.to_string()),
                "distcc" => distcc = Some(format!("distcc {value}")),
                "distfarm" => distfarm = Some(format!("distfarm {value}")),
                _ => {}
            }
        }
        if cpus <= 0 {
            cpus = 1;
        }
        if let Some(given) = jobs_given {
            jobs = if given <= 0 { cpus + 2 } else { given };
        }
        // The order a client tries them in: IPv4 before IPv6, loopback last (it only means
        // something on the same machine), then by value so every client agrees.
        addresses.sort_by_key(|a| (a.is_loopback(), a.is_ipv6(), *a));
        addresses.dedup();
        FoundServer {
            name: name.to_string(),
            addresses,
            port,
            jobs: u32::try_from(jobs).unwrap_or(u32::MAX),
            cc_version,
            cc_machine,
            software: distfarm.or(distcc),
        }
    }

    /// Whether a client whose `cc` is `ours` uses it.
    pub fn verdict(&self, ours: &CompilerIdentity) -> Verdict {
        let (Some(version), Some(machine)) = (&self.cc_version, &self.cc_machine) else {
            return Verdict::NoCompiler;
        };
        if !ours.same_machine(machine) {
            return Verdict::OtherMachine {
                theirs: machine.clone(),
                ours: ours.machine.clone(),
            };
        }
        if !ours.same_version(version) {
            return Verdict::OtherVersion {
                theirs: version.clone(),
                ours: ours.version.clone(),
            };
        }
        if self.address().is_none() {
            return Verdict::NoAddress;
        }
        Verdict::Used
    }

    /// The address a client connects to. IPv6 link-local addresses need a scope a host
    /// entry cannot carry: left out.
    pub fn address(&self) -> Option<IpAddr> {
        self.addresses.iter().copied().find(|a| match a {
            IpAddr::V4(_) => true,
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
        })
    }

    /// The line distcc's browser writes to the hosts file: `ADDR:PORT/JOBS`, IPv6 in
    /// brackets.
    pub fn host_entry(&self) -> Option<String> {
        Some(match self.address()? {
            IpAddr::V4(a) => format!("{a}:{}/{}", self.port, self.jobs),
            IpAddr::V6(a) => format!("[{a}]:{}/{}", self.port, self.jobs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(txt: &[(&str, &str)]) -> FoundServer {
        FoundServer::from_txt(
            "distcc@box",
            vec!["10.1.2.3".parse().unwrap()],
            3632,
            txt.iter().copied(),
        )
    }

    fn gcc12() -> CompilerIdentity {
        CompilerIdentity {
            version: "12".into(),
            machine: "x86_64-linux-gnu".into(),
        }
    }

    #[test]
    fn announcement_has_distccds_keys_in_its_order() {
        let txt = properties(8, 10, Some(&gcc12()));
        let keys: Vec<_> = txt.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "txtvers",
                "cpus",
                "jobs",
                "distcc",
                "gnuhost",
                "cc_version",
                "cc_machine",
                "distfarm"
            ]
        );
        assert_eq!(txt[2].1, "10");
    }

    #[test]
    fn slots_follow_distccs_rules() {
        assert_eq!(found(&[("cpus", "8"), ("jobs", "10")]).jobs, 10);
        assert_eq!(found(&[("cpus", "8"), ("jobs", "0")]).jobs, 10);
        assert_eq!(found(&[("cpus", "0"), ("jobs", "x")]).jobs, 3);
        assert_eq!(found(&[("cpus", "8")]).jobs, 4);
    }

    #[test]
    fn hosts_file_line_is_distccs() {
        assert_eq!(
            found(&[("jobs", "6")]).host_entry().as_deref(),
            Some("10.1.2.3:3632/6")
        );
        let v6 = FoundServer::from_txt(
            "distcc@box",
            vec!["fe80::1".parse().unwrap(), "fd00::5".parse().unwrap()],
            3632,
            [("jobs", "2")].into_iter(),
        );
        assert_eq!(v6.host_entry().as_deref(), Some("[fd00::5]:3632/2"));
    }

    #[test]
    fn ipv4_first_loopback_last() {
        let s = FoundServer::from_txt(
            "distcc@box",
            vec![
                "127.0.0.1".parse().unwrap(),
                "fd00::5".parse().unwrap(),
                "10.0.0.9".parse().unwrap(),
            ],
            3632,
            std::iter::empty(),
        );
        assert_eq!(s.address(), Some("10.0.0.9".parse().unwrap()));
    }

    #[test]
    fn verdict_names_what_differs() {
        let ours = gcc12();
        let same = [("cc_version", "12"), ("cc_machine", "x86_64-linux-gnu")];
        assert_eq!(found(&same).verdict(&ours), Verdict::Used);
        let newer = [("cc_version", "13"), ("cc_machine", "x86_64-linux-gnu")];
        assert!(matches!(
            found(&newer).verdict(&ours),
            Verdict::OtherVersion { .. }
        ));
        let arm = [("cc_version", "12"), ("cc_machine", "aarch64-linux-gnu")];
        assert!(matches!(
            found(&arm).verdict(&ours),
            Verdict::OtherMachine { .. }
        ));
        assert_eq!(found(&[]).verdict(&ours), Verdict::NoCompiler);
    }
}
