//! Who a request comes from when reverse proxies stand in front: the trusted
//! proxies setting (`TESSERA_TRUSTED_PROXIES`) and the one pure function that
//! reads the client's address and scheme from the forwarding headers.
//!
//! Only when the TCP peer is a trusted proxy are the headers believed. The
//! client is then the right-most address of the hop list that is not itself a
//! trusted proxy: each proxy appends the address it was connected from, so
//! whatever a client wrote into the header itself stays to the left and is
//! never reached while the hops to its right are all ours.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use super::origin::Scheme;

/// The addresses and networks whose forwarding headers are believed. Empty by
/// default: then every request's client is its TCP peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl std::fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.0.iter().map(IpNet::to_string).collect();
        f.write_str(&list.join(","))
    }
}

/// The client of a request as the trusted proxies report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    /// The scheme the client used, when a trusted proxy said so.
    pub scheme: Option<Scheme>,
}

/// The forwarding headers of a request, as sent (each header's values in order).
#[derive(Debug, Default, Clone, Copy)]
pub struct Forwarding<'a> {
    pub x_forwarded_for: &'a [&'a str],
    pub forwarded: &'a [&'a str],
    pub x_forwarded_proto: &'a [&'a str],
}

impl TrustedProxies {
    /// A comma-separated list of addresses (`10.0.0.5`, `::1`) and networks
    /// (`10.0.0.0/8`, `fd00::/8`); empty entries are ignored.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!("{entry:?} is not an IP address or network (such as 10.0.0.0/8)")
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that arrived from `peer` with these headers.
    ///
    /// `X-Forwarded-For` is read when present (every common proxy sets it),
    /// else `Forwarded`'s `for=` (RFC 7239). An entry that is no address
    /// (`unknown`, an obfuscated name) ends the walk at the hop to its right,
    /// which a trusted proxy reported.
    pub fn client(&self, peer: IpAddr, headers: Forwarding<'_>) -> Client {
        let peer = peer.to_canonical();
        let untrusted = Client {
            ip: peer,
            scheme: None,
        };
        if !self.trusts(peer) {
            return untrusted;
        }
        // X-Forwarded-For when sent, else Forwarded.
        let hops: Vec<Option<IpAddr>> = if headers.x_forwarded_for.is_empty() {
            list_items(headers.forwarded)
                .map(|element| forwarded_param(element, "for").and_then(parse_hop))
                .collect()
        } else {
            list_items(headers.x_forwarded_for).map(parse_hop).collect()
        };
        let mut ip = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(hop) if self.trusts(*hop) => ip = *hop,
                Some(hop) => {
                    ip = *hop;
                    break;
                }
                None => break,
            }
        }
        let scheme = if headers.x_forwarded_proto.is_empty() {
            list_items(headers.forwarded)
                .last()
                .and_then(|element| forwarded_param(element, "proto"))
                .and_then(scheme)
        } else {
            list_items(headers.x_forwarded_proto)
                .last()
                .and_then(scheme)
        };
        Client { ip, scheme }
    }
}

/// The comma-separated items of every value of a header, in order.
fn list_items<'a>(values: &'a [&'a str]) -> impl DoubleEndedIterator<Item = &'a str> + 'a {
    values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// One hop: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`,
/// perhaps in quotes (as `Forwarded` writes addresses with a port).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse().ok())
        })
        .map(|ip: IpAddr| ip.to_canonical())
}

/// The value of parameter `name` in one `Forwarded` element (`for=…;proto=…`).
fn forwarded_param<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"'))
    })
}

fn scheme(value: &str) -> Option<Scheme> {
    if value.eq_ignore_ascii_case("https") {
        Some(Scheme::Https)
    } else if value.eq_ignore_ascii_case("http") {
        Some(Scheme::Http)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff<'a>(values: &'a [&'a str]) -> Forwarding<'a> {
        Forwarding {
            x_forwarded_for: values,
            ..Forwarding::default()
        }
    }

    #[test]
    fn parses_addresses_and_networks() {
        let proxies = TrustedProxies::parse(" 10.0.0.0/8, 192.0.2.7 ,::1,fd00::/8,").unwrap();
        assert!(proxies.trusts(ip("10.200.1.1")));
        assert!(proxies.trusts(ip("192.0.2.7")));
        assert!(!proxies.trusts(ip("192.0.2.8")));
        assert!(proxies.trusts(ip("::1")));
        assert!(proxies.trusts(ip("fd12::3")));
        assert!(
            proxies.trusts(ip("::ffff:10.1.2.3")),
            "an IPv4 peer on a dual-stack socket"
        );
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        let err = TrustedProxies::parse("10.0.0.0/8, proxy.example").unwrap_err();
        assert!(err.contains("proxy.example"), "{err}");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        let client = proxies.client(
            ip("127.0.0.2"),
            Forwarding {
                x_forwarded_for: &["203.0.113.9"],
                forwarded: &["for=203.0.113.10;proto=https"],
                x_forwarded_proto: &["https"],
            },
        );
        assert_eq!(
            client,
            Client {
                ip: ip("127.0.0.2"),
                scheme: None
            }
        );
        let nobody_trusted = TrustedProxies::default();
        assert_eq!(
            nobody_trusted
                .client(ip("127.0.0.1"), xff(&["203.0.113.9"]))
                .ip,
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        // The client forged the first entry; our proxies appended the rest.
        let client = proxies.client(
            ip("127.0.0.1"),
            xff(&["198.51.100.66, 203.0.113.9", "10.0.0.3"]),
        );
        assert_eq!(client.ip, ip("203.0.113.9"));
        assert_eq!(client.scheme, None);
        // Only proxies in the list: the left-most of them.
        let client = proxies.client(ip("127.0.0.1"), xff(&["10.0.0.4, 10.0.0.3"]));
        assert_eq!(client.ip, ip("10.0.0.4"));
        // No header at all: the proxy itself.
        assert_eq!(
            proxies.client(ip("127.0.0.1"), Forwarding::default()).ip,
            ip("127.0.0.1")
        );
        // Ports and brackets.
        let client = proxies.client(ip("127.0.0.1"), xff(&["[2001:db8::1]:4711"]));
        assert_eq!(client.ip, ip("2001:db8::1"));
        let client = proxies.client(ip("127.0.0.1"), xff(&["192.0.2.1:80"]));
        assert_eq!(client.ip, ip("192.0.2.1"));
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_trusted_hop() {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let client = proxies.client(ip("127.0.0.1"), xff(&["203.0.113.9, unknown, 10.0.0.3"]));
        assert_eq!(client.ip, ip("10.0.0.3"));
        let client = proxies.client(ip("127.0.0.1"), xff(&["<script>"]));
        assert_eq!(client.ip, ip("127.0.0.1"));
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        let client = proxies.client(
            ip("127.0.0.1"),
            Forwarding {
                forwarded: &[
                    "for=198.51.100.66",
                    "For=\"[2001:db8:cafe::17]:4711\";proto=https;by=127.0.0.1",
                ],
                ..Forwarding::default()
            },
        );
        assert_eq!(
            client,
            Client {
                ip: ip("2001:db8:cafe::17"),
                scheme: Some(Scheme::Https)
            }
        );
        let client = proxies.client(
            ip("127.0.0.1"),
            Forwarding {
                x_forwarded_for: &["203.0.113.9"],
                forwarded: &["for=198.51.100.66"],
                x_forwarded_proto: &["http, https"],
            },
        );
        assert_eq!(
            client,
            Client {
                ip: ip("203.0.113.9"),
                scheme: Some(Scheme::Https)
            },
            "X-Forwarded-For wins; the last proto is the nearest proxy's"
        );
    }
}
