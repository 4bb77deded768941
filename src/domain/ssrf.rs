//! Where a webhook may be sent (server-side request forgery): an endpoint URL
//! must be `http` or `https` with a host, and every address its host
//! resolves to must be a public one. Loopback, private, link-local, shared
//! (CGNAT), unspecified, multicast, broadcast, documentation and other
//! reserved addresses are refused, and so are IPv6 addresses that carry one
//! of those IPv4 addresses (IPv4-mapped, IPv4-compatible, NAT64), unless the
//! deployment allows private endpoints (`TESSERA_WEBHOOKS_ALLOW_PRIVATE`).
//!
//! Resolving the host is the caller's (`crate::webhooks`), which then connects
//! to the very address it checked, so that a second DNS answer cannot switch it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a public one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Loopback,
    Private,
    LinkLocal,
    /// 100.64.0.0/10, carrier-grade NAT.
    Shared,
    Unspecified,
    Multicast,
    Broadcast,
    Documentation,
    /// Anything else not routed on the internet (0/8, 192.0.0/24, 198.18/15,
    /// 240/4, ...).
    Reserved,
}

impl Refused {
    /// How the form and the delivery log say it.
    pub fn describe(self) -> &'static str {
        match self {
            Refused::Loopback => "a loopback address",
            Refused::Private => "a private address",
            Refused::LinkLocal => "a link-local address",
            Refused::Shared => "a shared (carrier-grade NAT) address",
            Refused::Unspecified => "the unspecified address",
            Refused::Multicast => "a multicast address",
            Refused::Broadcast => "the broadcast address",
            Refused::Documentation => "a documentation address",
            Refused::Reserved => "a reserved address",
        }
    }
}

/// Why `ip` may not receive webhooks, or `None` if it is a public address.
pub fn classify(ip: IpAddr) -> Option<Refused> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refused> {
    let [a, b, c, _] = ip.octets();
    Some(if ip.is_loopback() {
        Refused::Loopback
    } else if ip.is_private() {
        Refused::Private
    } else if ip.is_link_local() {
        Refused::LinkLocal
    } else if a == 100 && (b & 0xc0) == 64 {
        Refused::Shared
    } else if ip.is_unspecified() {
        Refused::Unspecified
    } else if ip.is_multicast() {
        Refused::Multicast
    } else if ip.is_broadcast() {
        Refused::Broadcast
    } else if ip.is_documentation() {
        Refused::Documentation
    } else if a == 0 || a >= 240 || (a == 192 && b == 0 && c == 0) || (a == 198 && (b & 0xfe) == 18)
    {
        Refused::Reserved
    } else {
        return None;
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refused> {
    let segments = ip.segments();
    // IPv4 inside IPv6: ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible,
    // deprecated), 64:ff9b::a.b.c.d (NAT64): judged as the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let embedded = || {
        let [.., hi, lo] = segments;
        Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))
    };
    if segments[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return classify_v4(embedded()).or(Some(Refused::Reserved));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded());
    }
    Some(if ip.is_loopback() {
        Refused::Loopback
    } else if ip.is_unspecified() {
        Refused::Unspecified
    } else if ip.is_multicast() {
        Refused::Multicast
    } else if (segments[0] & 0xfe00) == 0xfc00 {
        Refused::Private
    } else if (segments[0] & 0xffc0) == 0xfe80 {
        Refused::LinkLocal
    } else if (segments[0] & 0xffc0) == 0xfec0 {
        // Site-local, deprecated: private in all but name.
        Refused::Private
    } else if segments[0] == 0x2001 && segments[1] == 0x0db8 {
        Refused::Documentation
    } else if (segments[0] & 0xe000) != 0x2000 {
        // Outside 2000::/3, the global unicast space.
        Refused::Reserved
    } else {
        return None;
    })
}

/// What an endpoint URL names: where to connect and what to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    /// The host as written (a name, or an address without brackets).
    pub host: String,
    pub port: u16,
    /// The host is an address literal (no name to resolve).
    pub literal: Option<IpAddr>,
}

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// Checks the form of an endpoint URL (not where it points): `http` or
/// `https`, a host, no user name or password in it.
pub fn parse_url(text: &str) -> Result<Target, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Enter the URL events are sent to.");
    }
    if text.len() > MAX_URL_LEN {
        return Err("Use a URL of at most 2000 characters.");
    }
    let url = url::Url::parse(text)
        .map_err(|_| "Enter a full URL, such as https://hooks.example.com/tessera.")?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err("Use an http:// or https:// URL."),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Leave credentials out of the URL: each delivery is signed instead.");
    }
    let (host, literal) = match url.host() {
        Some(url::Host::Domain(name)) => (name.to_owned(), None),
        Some(url::Host::Ipv4(ip)) => (ip.to_string(), Some(IpAddr::V4(ip))),
        Some(url::Host::Ipv6(ip)) => (ip.to_string(), Some(IpAddr::V6(ip))),
        None => return Err("Enter a URL with a host name."),
    };
    let port = url
        .port_or_known_default()
        .ok_or("Enter a URL with a port.")?;
    Ok(Target {
        https,
        host,
        port,
        literal,
    })
}

/// The first address of `addresses` that may be connected to, or why none
/// may: every one must be public (unless `allow_private`), so that a name
/// that also resolves to an inside address is refused as a whole.
pub fn choose(addresses: &[IpAddr], allow_private: bool) -> Result<IpAddr, String> {
    let first = addresses
        .first()
        .copied()
        .ok_or_else(|| "the host name does not resolve to any address".to_owned())?;
    if !allow_private {
        for ip in addresses {
            if let Some(why) = classify(*ip) {
                return Err(format!(
                    "{ip} is {}; webhooks go to public addresses only \
                     (TESSERA_WEBHOOKS_ALLOW_PRIVATE=true allows others)",
                    why.describe()
                ));
            }
        }
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Option<Refused> {
        classify(text.parse().unwrap())
    }

    #[test]
    fn inside_addresses_are_refused() {
        for (ip, why) in [
            ("127.0.0.1", Refused::Loopback),
            ("127.255.0.9", Refused::Loopback),
            ("10.1.2.3", Refused::Private),
            ("172.16.0.1", Refused::Private),
            ("172.31.255.255", Refused::Private),
            ("192.168.1.1", Refused::Private),
            ("169.254.169.254", Refused::LinkLocal),
            ("100.64.0.1", Refused::Shared),
            ("100.127.255.255", Refused::Shared),
            ("0.0.0.0", Refused::Unspecified),
            ("0.1.2.3", Refused::Reserved),
            ("224.0.0.1", Refused::Multicast),
            ("255.255.255.255", Refused::Broadcast),
            ("192.0.2.1", Refused::Documentation),
            ("198.51.100.7", Refused::Documentation),
            ("203.0.113.9", Refused::Documentation),
            ("198.18.0.1", Refused::Reserved),
            ("240.0.0.1", Refused::Reserved),
            ("192.0.0.8", Refused::Reserved),
            ("::1", Refused::Loopback),
            ("::", Refused::Unspecified),
            ("fc00::1", Refused::Private),
            ("fd12:3456::1", Refused::Private),
            ("fe80::1", Refused::LinkLocal),
            ("fec0::1", Refused::Private),
            ("ff02::1", Refused::Multicast),
            ("2001:db8::1", Refused::Documentation),
            ("::ffff:127.0.0.1", Refused::Loopback),
            ("::ffff:10.0.0.1", Refused::Private),
            ("::ffff:169.254.169.254", Refused::LinkLocal),
            ("::10.0.0.1", Refused::Private),
            ("64:ff9b::a9fe:a9fe", Refused::LinkLocal),
            ("64:ff9b::7f00:1", Refused::Loopback),
        ] {
            assert_eq!(of(ip), Some(why), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(of(ip), None, "{ip}");
        }
    }

    #[test]
    fn urls_are_http_or_https_with_a_host() {
        let t = parse_url(" https://hooks.example.com/x?y=1 ").unwrap();
        assert!(t.https);
        assert_eq!(
            (t.host.as_str(), t.port, t.literal),
            ("hooks.example.com", 443, None)
        );
        let t = parse_url("http://[::1]:8080/h").unwrap();
        assert_eq!(t.literal, Some("::1".parse().unwrap()));
        assert_eq!(t.port, 8080);
        let t = parse_url("http://10.0.0.1/h").unwrap();
        assert_eq!((t.port, t.literal), (80, Some("10.0.0.1".parse().unwrap())));
        for bad in [
            "",
            "hooks.example.com",
            "ftp://hooks.example.com/",
            "file:///etc/passwd",
            "https://user:pw@hooks.example.com/",
            "javascript:alert(1)",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_inside_address_refuses_the_name() {
        let public: IpAddr = "8.8.8.8".parse().unwrap();
        let inside: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(choose(&[public], false), Ok(public));
        assert!(
            choose(&[public, inside], false)
                .unwrap_err()
                .contains("private")
        );
        assert_eq!(choose(&[inside, public], true), Ok(inside));
        assert!(choose(&[], true).is_err());
    }
}
