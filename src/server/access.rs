//! `--allow ADDR[/BITS]`: which client addresses may use the daemon.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "bad --allow value {text:?}: {why} (expected an IPv4 or IPv6 address with an optional /BITS)"
)]
pub struct BadCidr {
    text: String,
    why: &'static str,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, BadCidr> {
        let bad = |why| BadCidr {
            text: text.to_string(),
            why,
        };
        let (addr_text, bits_text) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let addr_text = addr_text.trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = addr_text.parse().map_err(|_| bad("not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits_text {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| bad("mask bits out of range"))?,
        };
        Ok(Cidr { addr, bits })
    }

    pub fn contains(&self, client: IpAddr) -> bool {
        // An IPv4 client reaching a dual-stack socket shows up as ::ffff:a.b.c.d; compare it
        // as the IPv4 address it is (distccd 3.4 gets this wrong on little-endian hosts).
        let client = canonical(client);
        match (self.addr, client) {
            (IpAddr::V4(net), IpAddr::V4(c)) => prefix_eq(&net.octets(), &c.octets(), self.bits),
            (IpAddr::V6(net), IpAddr::V6(c)) => prefix_eq(&net.octets(), &c.octets(), self.bits),
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.bits)
    }
}

fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let whole = (bits / 8) as usize;
    if a[..whole] != b[..whole] {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

/// The daemon's allow-list. Empty means "loopback only", never "everyone".
#[derive(Debug, Clone, Default)]
pub struct AccessList {
    entries: Vec<Cidr>,
}

impl AccessList {
    pub fn new(entries: Vec<Cidr>) -> Self {
        AccessList { entries }
    }

    /// What `--allow-private` adds: RFC 1918, loopback, link-local and unique-local (and
    /// `::1`, which distccd 3.4 forgets).
    pub fn private_networks() -> Vec<Cidr> {
        let v4 = |a, b, c, d, bits| Cidr {
            addr: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            bits,
        };
        let v6 = |addr: Ipv6Addr, bits| Cidr {
            addr: IpAddr::V6(addr),
            bits,
        };
        vec![
            v4(192, 168, 0, 0, 16),
            v4(10, 0, 0, 0, 8),
            v4(172, 16, 0, 0, 12),
            v4(127, 0, 0, 0, 8),
            v6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
            v6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
            v6(Ipv6Addr::LOCALHOST, 128),
        ]
    }

    pub fn loopback() -> Vec<Cidr> {
        vec![
            Cidr {
                addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
                bits: 8,
            },
            Cidr {
                addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
                bits: 128,
            },
        ]
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[Cidr] {
        &self.entries
    }

    pub fn allows(&self, client: IpAddr) -> bool {
        self.entries.iter().any(|c| c.contains(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_prefixes_match_by_bits() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(
            Cidr::parse("192.168.1.7")
                .unwrap()
                .contains(ip("192.168.1.7"))
        );
        assert!(
            !Cidr::parse("192.168.1.7")
                .unwrap()
                .contains(ip("192.168.1.8"))
        );
        assert!(
            Cidr::parse("172.16.0.0/12")
                .unwrap()
                .contains(ip("172.31.255.1"))
        );
    }

    #[test]
    fn ipv6_entries_and_mapped_ipv4_clients() {
        let net = Cidr::parse("fd00::/8").unwrap();
        assert!(net.contains(ip("fd12::1")));
        assert!(!net.contains(ip("fe80::1")));
        assert!(Cidr::parse("[::1]").unwrap().contains(ip("::1")));
        assert!(
            Cidr::parse("127.0.0.1")
                .unwrap()
                .contains(ip("::ffff:127.0.0.1"))
        );
    }

    #[test]
    fn bad_values_are_errors_that_name_the_value() {
        for bad in ["10.0.0.0/33", "::/129", "example", "10.0.0/8", "1.2.3.4/x"] {
            let err = Cidr::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn private_networks_include_ipv6_loopback() {
        let list = AccessList::new(AccessList::private_networks());
        assert!(list.allows(ip("::1")));
        assert!(list.allows(ip("192.168.3.4")));
        assert!(!list.allows(ip("8.8.8.8")));
        assert!(!AccessList::default().allows(ip("127.0.0.1")));
    }
}
