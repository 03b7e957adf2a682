//! The client's address. It is the peer's, unless the peer is one of the
//! operator's own proxies (`DEVAUTH_TRUSTED_PROXIES`, CIDR ranges): then the
//! forwarding headers are walked from the right (`Forwarded`, RFC 7239, when
//! present, else every `X-Forwarded-For` line, merged in order) and the first
//! address that is not a trusted proxy is the client. Anyone else's
//! forwarding headers are ignored: a client cannot pick its own address.
//!
//! Rate limits key IPv6 clients by their /64, which one subscriber usually
//! holds whole.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address range: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (whole, rest) = ((prefix / 8) as usize, prefix % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[whole] & mask == b[whole] & mask
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let written: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an address or a range like 10.0.0.0/8"))?;
        let max = if written.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {max}"))?,
        };
        let addr = canonical(written);
        // `::ffff:10.0.0.0/104` is the IPv4 range 10.0.0.0/8.
        let prefix = match (written, addr) {
            (IpAddr::V6(_), IpAddr::V4(_)) if prefix >= 96 => prefix - 96,
            (IpAddr::V6(_), IpAddr::V4(_)) => {
                return Err(format!(
                    "`{text}`: an IPv4-mapped range needs a prefix of 96 or more"
                ));
            }
            _ => prefix,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The operator's proxies, whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// A comma- or space-separated list of addresses and ranges; empty: none.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split([',', ' '])
            .filter(|p| !p.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is one of them.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    /// Whether there are none (forwarding headers are never believed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&ranges.join(","))
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so one client has one spelling.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The client of a request from `peer`: `forwarded` are the values of its
/// `Forwarded` header lines and `forwarded_for` those of its
/// `X-Forwarded-For` lines, each in the order received.
pub fn client_ip<'a>(
    peer: IpAddr,
    trusted: &TrustedProxies,
    forwarded: impl IntoIterator<Item = &'a str>,
    forwarded_for: impl IntoIterator<Item = &'a str>,
) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.trusts(peer) {
        return peer;
    }
    let mut hops: Vec<&str> = forwarded
        .into_iter()
        .flat_map(|line| line.split(','))
        .filter_map(forwarded_for_param)
        .collect();
    if hops.is_empty() {
        hops = forwarded_for
            .into_iter()
            .flat_map(|line| line.split(','))
            .collect();
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if trusted.trusts(ip) => client = ip,
            Some(ip) => return ip,
            // Unknown or garbled: what lies left of it cannot be believed.
            None => return client,
        }
    }
    client
}

/// The `for=` parameter of one `Forwarded` element.
fn forwarded_for_param(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim())
    })
}

/// One hop as an address: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `"[2001:db8::1]:4711"`; `None` for `unknown`, obfuscated names or garbage.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (addr, _port) = rest.split_once(']')?;
        return addr
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| canonical(IpAddr::V6(ip)));
    }
    let (addr, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    addr.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The key rate limits count a client under: the address, or for IPv6 its /64.
pub fn limit_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(s: &str) -> TrustedProxies {
        TrustedProxies::parse(s).unwrap()
    }

    #[test]
    fn ranges_contain_what_they_should() {
        let r: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(r.contains(ip("10.200.3.4")) && !r.contains(ip("11.0.0.1")));
        let r: Cidr = "192.168.1.0/25".parse().unwrap();
        assert!(r.contains(ip("192.168.1.127")) && !r.contains(ip("192.168.1.128")));
        let r: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(r.contains(ip("2001:db8:ffff::1")) && !r.contains(ip("2001:db9::1")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(
            one.contains(ip("::ffff:127.0.0.1")),
            "mapped addresses are IPv4"
        );
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert!(mapped.contains(ip("10.9.8.7")) && !mapped.contains(ip("11.0.0.1")));
        for bad in [
            "10.0.0.0/33",
            "nope",
            "::/129",
            "10.0.0/8",
            "",
            "::ffff:10.0.0.0/64",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_untrusted_peer_cannot_pick_its_address() {
        let none = TrustedProxies::default();
        let got = client_ip(ip("203.0.113.9"), &none, [], ["198.51.100.1"]);
        assert_eq!(got, ip("203.0.113.9"));
        let other = proxies("10.0.0.0/8");
        let got = client_ip(ip("203.0.113.9"), &other, ["for=198.51.100.1"], []);
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let p = proxies("10.0.0.0/8, 192.168.0.1");
        // Client-supplied junk on the left stays on the left.
        let got = client_ip(
            ip("10.0.0.2"),
            &p,
            [],
            ["6.6.6.6, 198.51.100.7", "192.168.0.1"],
        );
        assert_eq!(got, ip("198.51.100.7"));
        // Every line counts, not only the first.
        let got = client_ip(ip("10.0.0.2"), &p, [], ["198.51.100.7", "10.1.1.1"]);
        assert_eq!(got, ip("198.51.100.7"));
        // All trusted: the leftmost.
        let got = client_ip(ip("10.0.0.2"), &p, [], ["10.9.9.9, 10.8.8.8"]);
        assert_eq!(got, ip("10.9.9.9"));
        // No header: the proxy itself.
        let got = client_ip(ip("10.0.0.2"), &p, [], []);
        assert_eq!(got, ip("10.0.0.2"));
        // Garbage stops the walk at the last believable hop.
        let got = client_ip(ip("10.0.0.2"), &p, [], ["198.51.100.7, evil, 10.1.1.1"]);
        assert_eq!(got, ip("10.1.1.1"));
    }

    #[test]
    fn forwarded_wins_and_is_read_as_rfc_7239_says() {
        let p = proxies("10.0.0.0/8");
        let got = client_ip(
            ip("10.0.0.2"),
            &p,
            [r#"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711""#],
            ["198.51.100.1"],
        );
        assert_eq!(got, ip("2001:db8:cafe::17"));
        let got = client_ip(ip("10.0.0.2"), &p, ["for=unknown"], []);
        assert_eq!(got, ip("10.0.0.2"));
        let got = client_ip(ip("10.0.0.2"), &p, [], ["192.0.2.9:1234"]);
        assert_eq!(got, ip("192.0.2.9"));
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(
            limit_key(ip("2001:db8:1:2:bbbb::9")),
            limit_key(ip("2001:db8:1:2:aaaa::1"))
        );
        assert_eq!(limit_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }

    proptest! {
        /// Whatever the headers say, the answer is the peer, a hop the
        /// headers named, and never an address left of an untrusted hop.
        #[test]
        fn the_client_is_never_further_left_than_the_first_untrusted_hop(
            hops in proptest::collection::vec(
                prop_oneof![
                    Just("10.0.0.1".to_string()),
                    Just("10.2.3.4".to_string()),
                    Just("198.51.100.7".to_string()),
                    Just("203.0.113.5".to_string()),
                    Just("garbage".to_string()),
                    Just("[2001:db8::1]:80".to_string()),
                ],
                0..8,
            ),
            split in 0usize..8,
        ) {
            let p = proxies("10.0.0.0/8");
            let split = split.min(hops.len());
            let lines = [hops[..split].join(","), hops[split..].join(",")];
            let got = client_ip(ip("10.0.0.99"), &p, [], lines.iter().map(String::as_str).filter(|l| !l.is_empty()));
            let mut expected = ip("10.0.0.99");
            for hop in hops.iter().rev() {
                match parse_hop(hop) {
                    Some(h) if p.trusts(h) => expected = h,
                    Some(h) => { expected = h; break; }
                    None => break,
                }
            }
            prop_assert_eq!(got, expected);
        }
    }
}
