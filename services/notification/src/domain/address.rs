//! Where a webhook may be sent. A webhook URL is typed by the office, so without a rule
//! the service would POST to anything it can reach — its own database, NATS, the other
//! services, the cloud's metadata address — and the delivery record would tell the
//! office what answered. Only public addresses are allowed, plus the networks an
//! operator names in `CCHC_WEBHOOK_ALLOW_NETWORKS` (for a Department whose receiver
//! really is inside its LAN).
//!
//! The rule is applied to the address actually connected to (see
//! [`crate::delivery::webhook`]), and, for early and clear feedback, to the host of a
//! URL when it is saved.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A network in CIDR form, e.g. `10.1.0.0/16` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Self {
        Self {
            addr: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8) -> Self {
        let [a, b, c, d, e, f, g, h] = segments;
        Self {
            addr: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
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

impl std::str::FromStr for Network {
    type Err = String;

    /// `address/prefix`, or a bare address for that one address. The address must be
    /// the network's first (`10.1.0.0/16`, not `10.1.2.3/16`), so a typo does not
    /// silently allow a different network than the one meant.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or network (CIDR)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        let net = Network { addr, prefix };
        if first_of(net) != addr {
            return Err(format!(
                "{s:?} has host bits set; the network is {}/{prefix}",
                first_of(net)
            ));
        }
        Ok(net)
    }
}

/// The first address of a network: its address with the host bits cleared.
fn first_of(net: Network) -> IpAddr {
    fn clear(bytes: &mut [u8], prefix: u8) {
        for (i, b) in bytes.iter_mut().enumerate() {
            let start = (i * 8) as u8;
            if start >= prefix {
                *b = 0;
            } else if prefix - start < 8 {
                *b &= 0xffu8 << (8 - (prefix - start));
            }
        }
    }
    match net.addr {
        IpAddr::V4(a) => {
            let mut o = a.octets();
            clear(&mut o, net.prefix);
            IpAddr::V4(o.into())
        }
        IpAddr::V6(a) => {
            let mut o = a.octets();
            clear(&mut o, net.prefix);
            IpAddr::V6(o.into())
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The special-purpose ranges no webhook is sent to unless allowed (IANA's IPv4 and
/// IPv6 special-purpose registries, RFC 6890 and its updates), with what each is.
const SPECIAL: &[(Network, &str)] = &[
    (Network::v4(0, 0, 0, 0, 8), "unspecified (this network)"),
    (Network::v4(10, 0, 0, 0, 8), "private"),
    (Network::v4(100, 64, 0, 0, 10), "shared (carrier-grade NAT)"),
    (Network::v4(127, 0, 0, 0, 8), "loopback"),
    (Network::v4(169, 254, 0, 0, 16), "link-local"),
    (Network::v4(172, 16, 0, 0, 12), "private"),
    (
        Network::v4(192, 0, 0, 0, 24),
        "reserved (IETF protocol assignments)",
    ),
    (Network::v4(192, 0, 2, 0, 24), "documentation"),
    (Network::v4(192, 88, 99, 0, 24), "reserved (6to4 relay)"),
    (Network::v4(192, 168, 0, 0, 16), "private"),
    (Network::v4(198, 18, 0, 0, 15), "reserved (benchmarking)"),
    (Network::v4(198, 51, 100, 0, 24), "documentation"),
    (Network::v4(203, 0, 113, 0, 24), "documentation"),
    (Network::v4(224, 0, 0, 0, 4), "multicast"),
    (Network::v4(255, 255, 255, 255, 32), "broadcast"),
    (Network::v4(240, 0, 0, 0, 4), "reserved"),
    (Network::v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified"),
    (Network::v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    // The rest of ::/8 (IPv4-compatible, local-use NAT64, …); IPv4-mapped and the
    // well-known NAT64 prefix are judged by the IPv4 address they carry.
    (Network::v6([0, 0, 0, 0, 0, 0, 0, 0], 8), "reserved"),
    (
        Network::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        "reserved (discard)",
    ),
    (
        Network::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "documentation",
    ),
    (
        Network::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        "reserved (IETF protocol assignments)",
    ),
    (
        Network::v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),
        "reserved (6to4)",
    ),
    (
        Network::v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        "documentation",
    ),
    (
        Network::v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),
        "reserved (SRv6)",
    ),
    (
        Network::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "private (unique local)",
    ),
    (Network::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local"),
    (
        Network::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "reserved (site-local)",
    ),
    (Network::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
];

/// The IPv4 address an IPv6 address stands for, if it carries one the host would
/// reach as IPv4: IPv4-mapped `::ffff:a.b.c.d` and well-known NAT64 `64:ff9b::a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let o = v6.octets();
                return IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            ip
        }
        v4 => v4,
    }
}

/// Why an address is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The address as connected to (an IPv4-mapped address shown as its IPv4).
    pub ip: IpAddr,
    /// What the address is: loopback, private, link-local, ….
    pub class: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {}", self.ip, self.class)
    }
}

impl std::error::Error for Refused {}

/// Which addresses webhooks may go to: public ones, and those in `allow`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allow: Vec<Network>,
}

impl AddressPolicy {
    pub fn new(allow: Vec<Network>) -> Self {
        Self { allow }
    }

    /// A comma-separated list of networks, as `CCHC_WEBHOOK_ALLOW_NETWORKS` holds it;
    /// empty allows nothing beyond public addresses.
    pub fn parse(list: &str) -> Result<Self, String> {
        let allow = list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Network>, String>>()?;
        Ok(Self { allow })
    }

    pub fn allowed(&self) -> &[Network] {
        &self.allow
    }

    /// `Ok` when a webhook may be sent to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        let ip4 = canonical(ip);
        if self.allow.iter().any(|n| n.contains(ip) || n.contains(ip4)) {
            return Ok(());
        }
        match SPECIAL.iter().find(|(n, _)| n.contains(ip4)) {
            Some((_, class)) => Err(Refused { ip: ip4, class }),
            None => Ok(()),
        }
    }

    /// Checks the host of a URL as it will be connected to, given as the URL parser
    /// (WHATWG, the one the sender uses) wrote it: an IP literal, whichever spelling the
    /// office typed (`2130706433`, `0x7f.1`, `0177.0.0.1`, `[::ffff:7f00:1]`, …), is
    /// checked by its address, and `localhost` (RFC 6761: it and its subdomains are
    /// always loopback) as loopback. Other names are resolved, and checked, when sent to.
    pub fn check_host(&self, host: &str) -> Result<(), Refused> {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        if let Ok(ip) = bare.unwrap_or(host).parse::<IpAddr>() {
            return self.check(ip);
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            let v4 = self.check(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let v6 = self.check(IpAddr::V6(Ipv6Addr::LOCALHOST));
            v4.or(v6)
        } else {
            Ok(())
        }
    }
}

/// What is wrong with a webhook URL the office entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlProblem {
    /// Not an absolute http(s) URL with a host.
    NotHttp,
    /// It holds a user name or password, which would be sent as Basic credentials and
    /// shown to everyone who lists recipients; the signature already authenticates us.
    Credentials,
    /// Its host is an address (or `localhost`) webhooks may not go to.
    Refused(Refused),
}

impl UrlProblem {
    /// The field rule the address broke.
    pub fn rule(&self) -> cchc_platform::validation::Rule {
        use cchc_platform::validation::Rule;
        match self {
            UrlProblem::NotHttp => Rule::Url,
            UrlProblem::Credentials => Rule::UrlCredentials,
            UrlProblem::Refused(r) => Rule::UrlNotPublic {
                address: r.ip.to_string(),
                class: r.class,
            },
        }
    }
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlProblem::NotHttp => f.write_str("must be an http(s) URL"),
            UrlProblem::Credentials => f.write_str(
                "must not contain a user name or password (each POST is signed with the secret instead)",
            ),
            UrlProblem::Refused(r) => write!(
                f,
                "must be a public address: {r} (an operator can allow a network inside the Department with CCHC_WEBHOOK_ALLOW_NETWORKS)"
            ),
        }
    }
}

/// Parses a webhook URL the way the sender will, and checks what can be checked
/// without resolving it.
pub fn check_webhook_url(url: &str, policy: &AddressPolicy) -> Result<reqwest::Url, UrlProblem> {
    let u = reqwest::Url::parse(url).map_err(|_| UrlProblem::NotHttp)?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(UrlProblem::NotHttp);
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(UrlProblem::Credentials);
    }
    let host = u.host_str().ok_or(UrlProblem::NotHttp)?;
    policy.check_host(host).map_err(UrlProblem::Refused)?;
    Ok(u)
}

/// The URL without any user name and password (URLs saved before they were refused
/// may hold them).
pub fn without_credentials(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => String::new(),
    }
}

/// Only the scheme, host and port of a URL. Webhook paths and queries often are the
/// receiver's own access token (`/hooks/T0/B0/zT9q`, `?key=…`), which a reader who
/// only needs to know where notices go has no use for.
pub fn origin_only(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn special_purpose_addresses_are_refused_public_ones_allowed() {
        let p = AddressPolicy::default();
        for (addr, class) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("0.0.0.0", "unspecified (this network)"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("100.100.100.200", "shared (carrier-grade NAT)"),
            ("169.254.169.254", "link-local"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("192.0.2.10", "documentation"),
            ("198.51.100.1", "documentation"),
            ("203.0.113.7", "documentation"),
            ("198.18.0.1", "reserved (benchmarking)"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("::127.0.0.1", "reserved"),
            ("fc00::1", "private (unique local)"),
            ("fd00:ec2::254", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("2002:7f00:1::", "reserved (6to4)"),
        ] {
            let e = p.check(ip(addr)).unwrap_err();
            assert_eq!(e.class, class, "{addr}");
        }
        assert_eq!(
            p.check(ip("::ffff:127.0.0.1")).unwrap_err().ip,
            ip("127.0.0.1")
        );
        for addr in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "113.160.0.1",
            "2001:4860:4860::8888",
            "2400:cb00::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(p.check(ip(addr)), Ok(()), "{addr}");
        }
    }

    #[test]
    fn the_allow_list_opens_exactly_its_networks() {
        let p = AddressPolicy::parse(" 10.1.0.0/16, 127.0.0.1/32 ,fd12::/16,").unwrap();
        assert_eq!(p.allowed().len(), 3);
        assert_eq!(p.check(ip("10.1.200.3")), Ok(()));
        assert!(p.check(ip("10.2.0.1")).is_err());
        assert_eq!(p.check(ip("127.0.0.1")), Ok(()));
        assert_eq!(p.check(ip("::ffff:127.0.0.1")), Ok(()));
        assert!(p.check(ip("127.0.0.2")).is_err());
        assert!(p.check(ip("::1")).is_err());
        assert_eq!(p.check(ip("fd12:3::1")), Ok(()));
        assert!(p.check(ip("fd13::1")).is_err());
        assert_eq!(AddressPolicy::parse("").unwrap(), AddressPolicy::default());
        assert_eq!(
            AddressPolicy::parse("192.168.5.7").unwrap().allowed()[0].to_string(),
            "192.168.5.7/32"
        );
        assert_eq!(
            AddressPolicy::parse("0.0.0.0/0")
                .unwrap()
                .check(ip("127.0.0.1")),
            Ok(())
        );
    }

    #[test]
    fn a_bad_allow_list_is_refused_naming_the_entry() {
        for (bad, says) in [
            ("10.1.0.0/33", "prefix length"),
            ("10.1.2.3/16", "10.1.0.0/16"),
            ("intranet", "not an IP address"),
            ("10.1.0.0/x", "prefix length"),
            ("fd00::1/8", "fd00::/8"),
        ] {
            let e = AddressPolicy::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn every_spelling_of_loopback_in_a_url_is_loopback() {
        let p = AddressPolicy::default();
        for url in [
            "http://127.0.0.1/hook",
            "http://2130706433/hook",
            "http://0x7f000001/hook",
            "http://0177.0.0.1/hook",
            "http://0x7f.0.0.1/hook",
            "http://127.1/hook",
            "http://127.0.1/hook",
            "http://127.0.0.1./hook",
            "http://0.0.0.0/hook",
            "http://0/hook",
            "http://[::1]/hook",
            "http://[0:0:0:0:0:0:0:1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://[::ffff:7f00:1]/hook",
            "http://localhost/hook",
            "http://LOCALHOST./hook",
            "http://api.localhost/hook",
            "https://%6c%6f%63%61%6c%68%6f%73%74/hook",
        ] {
            let u = reqwest::Url::parse(url).unwrap();
            let host = u.host_str().unwrap();
            assert!(p.check_host(host).is_err(), "{url} ({host})");
        }
        let u = reqwest::Url::parse("https://ubnd.example.vn/hooks").unwrap();
        assert_eq!(p.check_host(u.host_str().unwrap()), Ok(()));
        let lo = AddressPolicy::parse("127.0.0.0/8").unwrap();
        let u = reqwest::Url::parse("http://localhost:8080/hook").unwrap();
        assert_eq!(lo.check_host(u.host_str().unwrap()), Ok(()));
    }

    #[test]
    fn urls_are_parsed_as_the_sender_parses_them() {
        let p = AddressPolicy::default();
        assert!(check_webhook_url("https://ubnd.example.vn/hooks/cchc", &p).is_ok());
        for bad in [
            "ftp://ubnd.example.vn/",
            "ubnd.example.vn/hook",
            "https://",
            "mailto:a@b.vn",
        ] {
            assert_eq!(
                check_webhook_url(bad, &p),
                Err(UrlProblem::NotHttp),
                "{bad}"
            );
        }
        for creds in [
            "https://user:pass@ubnd.example.vn/hook",
            "https://user@ubnd.example.vn/hook",
            "https://:pass@ubnd.example.vn/hook",
        ] {
            assert_eq!(
                check_webhook_url(creds, &p),
                Err(UrlProblem::Credentials),
                "{creds}"
            );
        }
        // A backslash is a slash to the WHATWG parser: the host here is 127.0.0.1.
        assert!(matches!(
            check_webhook_url("http://127.0.0.1\\@ubnd.example.vn/", &p),
            Err(UrlProblem::Refused(_))
        ));
        assert_eq!(
            without_credentials("https://u:p@ubnd.example.vn:8443/h?x=1"),
            "https://ubnd.example.vn:8443/h?x=1"
        );
        assert_eq!(
            without_credentials("https://ubnd.example.vn/h"),
            "https://ubnd.example.vn/h"
        );
        assert_eq!(
            origin_only("https://u:p@hooks.example.vn/services/T0/B0/zT9q?key=1"),
            "https://hooks.example.vn"
        );
        assert_eq!(
            origin_only("http://hooks.example.vn:8080/x"),
            "http://hooks.example.vn:8080"
        );
    }
}
