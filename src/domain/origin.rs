//! Whether a state-changing browser request comes from Tessera's own pages: the
//! `Origin` and `Sec-Fetch-Site` rule, as one pure function of the two headers
//! and the origin the server answers as ([`Own`]). The CSRF token remains the
//! first line; this one refuses a request a browser marks as cross-site even
//! when it carries a valid token (a token leaked into another site, say).
//!
//! [`Own`] is the configured public URL's origin ([`PublicUrl::own`]); without
//! one, the request's `Host` header with the scheme left open (the listener
//! speaks plain HTTP whether or not a TLS proxy stands in front, and forwarded
//! headers are not believed).

/// The origin the server answers as: a host, its port if one is named, and
/// its scheme if known (`None`: either `http` or `https`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Own {
    pub scheme: Option<Scheme>,
    /// Lower case; IPv6 addresses keep their brackets.
    pub host: String,
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossSite {
    /// `Sec-Fetch-Site: cross-site`.
    FetchSite,
    /// `Origin: null` (a sandboxed frame, a redirect across sites, a file).
    NullOrigin,
    /// An `Origin` that is not the server's own, or not an http(s) origin.
    ForeignOrigin,
}

impl Own {
    /// The origin a `Host` header (`host`, `host:port`, `[v6]:port`) names,
    /// with the scheme left open. `None` if it is not a host.
    pub fn from_host(host: &str) -> Option<Self> {
        let (host, port) = split_host_port(host)?;
        Some(Self {
            scheme: None,
            host,
            port,
        })
    }
}

/// The deployment's public URL (`TESSERA_PUBLIC_URL`): `http(s)://host[:port]`
/// and perhaps a path, without a trailing slash. Every absolute URL Tessera
/// prints or shows starts with it, never with what a request's headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim().trim_end_matches('/');
        let invalid =
            || format!("{url:?} is not a public URL: expected https://host[:port][/path]");
        let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') || path.contains(['?', '#']) {
            return Err(invalid());
        }
        parse_origin(&format!("{scheme}://{authority}")).ok_or_else(invalid)?;
        Ok(Self(url.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The origin it names, scheme included.
    pub fn own(&self) -> Option<Own> {
        let (scheme, rest) = self.0.split_once("://")?;
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        let (scheme, host, port) = parse_origin(&format!("{scheme}://{authority}"))?;
        Some(Own {
            scheme: Some(scheme),
            host,
            port,
        })
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a state-changing request's `Origin` and `Sec-Fetch-Site` values
/// (each `None` when the header is absent) against the server's own origin.
/// A request with neither header (a script, curl, an old browser) passes: the
/// CSRF token still guards it.
pub fn check(
    origin: Option<&str>,
    sec_fetch_site: Option<&str>,
    own: Option<&Own>,
) -> Result<(), CrossSite> {
    let cross_site = |sites: &str| {
        sites
            .split(',')
            .any(|site| site.trim().eq_ignore_ascii_case("cross-site"))
    };
    if sec_fetch_site.is_some_and(cross_site) {
        return Err(CrossSite::FetchSite);
    }
    let Some(origin) = origin.map(str::trim) else {
        return Ok(());
    };
    if origin.eq_ignore_ascii_case("null") {
        return Err(CrossSite::NullOrigin);
    }
    match (parse_origin(origin), own) {
        (Some((scheme, host, port)), Some(own))
            if own.scheme.is_none_or(|s| s == scheme)
                && host == own.host
                && port.unwrap_or(scheme.default_port())
                    == own.port.unwrap_or(scheme.default_port()) =>
        {
            Ok(())
        }
        _ => Err(CrossSite::ForeignOrigin),
    }
}

/// `scheme://host[:port]`, as browsers serialise an origin: scheme, lower-case
/// host and the port if one is written.
fn parse_origin(origin: &str) -> Option<(Scheme, String, Option<u16>)> {
    let (scheme, rest) = origin.split_once("://")?;
    let scheme = if scheme.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else if scheme.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else {
        return None;
    };
    let (host, port) = split_host_port(rest)?;
    Some((scheme, host, port))
}

/// `host[:port]` or `[v6][:port]`, with nothing else (no user, path or query).
fn split_host_port(value: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(v6) = value.strip_prefix('[') {
        let (address, after) = v6.split_once(']')?;
        let valid = !address.is_empty()
            && address
                .chars()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'));
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (valid.then(|| format!("[{address}]"))?, port)
    } else {
        let (host, port) = match value.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        };
        let valid = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        (valid.then(|| host.to_owned())?, port)
    };
    let port = match port {
        None => None,
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            Some(port.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(host: &str) -> Own {
        Own::from_host(host).unwrap()
    }

    #[test]
    fn the_servers_own_origin_passes() {
        for (origin, host) in [
            ("http://127.0.0.1:8080", "127.0.0.1:8080"),
            ("https://tessera.example", "tessera.example"),
            ("https://tessera.example", "tessera.example:443"),
            ("http://tessera.example", "tessera.example"),
            ("https://Tessera.Example:8443", "tessera.example:8443"),
            ("http://[::1]:8080", "[::1]:8080"),
        ] {
            assert_eq!(
                check(Some(origin), None, Some(&own(host))),
                Ok(()),
                "{origin} {host}"
            );
        }
    }

    #[test]
    fn no_headers_or_same_origin_fetch_metadata_pass() {
        let own = own("tessera.example");
        assert_eq!(check(None, None, Some(&own)), Ok(()));
        assert_eq!(check(None, None, None), Ok(()));
        for site in ["same-origin", "same-site", "none"] {
            assert_eq!(check(None, Some(site), Some(&own)), Ok(()), "{site}");
        }
    }

    #[test]
    fn cross_site_fetch_metadata_is_refused_whatever_the_origin() {
        let own = own("tessera.example");
        assert_eq!(
            check(
                Some("https://tessera.example"),
                Some("cross-site"),
                Some(&own)
            ),
            Err(CrossSite::FetchSite)
        );
        assert_eq!(
            check(None, Some("Cross-Site"), Some(&own)),
            Err(CrossSite::FetchSite)
        );
        // A header sent twice counts with each of its values.
        assert_eq!(
            check(None, Some("same-origin, cross-site"), Some(&own)),
            Err(CrossSite::FetchSite)
        );
    }

    #[test]
    fn a_null_or_foreign_origin_is_refused() {
        let own = own("tessera.example:8080");
        assert_eq!(
            check(Some("null"), None, Some(&own)),
            Err(CrossSite::NullOrigin)
        );
        for origin in [
            "https://evil.example",
            "http://tessera.example:8081",
            "http://tessera.example",
            "https://tessera.example.evil.example:8080",
            "http://evil.example@tessera.example:8080",
            "http://tessera.example:8080/path",
            "ftp://tessera.example:8080",
            "tessera.example:8080",
            "http://tessera.example:80800",
            "http://tessera.example:",
            "http://:8080",
            "http://tessera.example:8080, https://evil.example",
            "",
        ] {
            assert_eq!(
                check(Some(origin), Some("same-origin"), Some(&own)),
                Err(CrossSite::ForeignOrigin),
                "{origin}"
            );
        }
        // Without a Host to compare with, no Origin can be confirmed.
        assert_eq!(
            check(Some("http://tessera.example:8080"), None, None),
            Err(CrossSite::ForeignOrigin)
        );
    }

    #[test]
    fn a_known_scheme_must_match_and_sets_the_default_port() {
        let https = Own {
            scheme: Some(Scheme::Https),
            host: "tessera.example".into(),
            port: None,
        };
        assert_eq!(
            check(Some("https://tessera.example"), None, Some(&https)),
            Ok(())
        );
        assert_eq!(
            check(Some("https://tessera.example:443"), None, Some(&https)),
            Ok(())
        );
        assert_eq!(
            check(Some("http://tessera.example"), None, Some(&https)),
            Err(CrossSite::ForeignOrigin)
        );
        assert_eq!(
            check(Some("https://tessera.example:8443"), None, Some(&https)),
            Err(CrossSite::ForeignOrigin)
        );
    }

    #[test]
    fn hosts_are_read_strictly() {
        assert_eq!(own("Tessera.Example:8080").host, "tessera.example");
        assert_eq!(own("[::1]").port, None);
        for bad in [
            "", "a b", "x:y", "a:b:80", "[::1", "[::1]x", "[]", "[g::1]", "a/b", "a@b",
        ] {
            assert!(Own::from_host(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_public_url_is_an_http_origin_and_perhaps_a_path() {
        for (given, kept) in [
            ("https://tessera.example.org", "https://tessera.example.org"),
            (
                "https://tessera.example.org/",
                "https://tessera.example.org",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            (
                "https://example.org/tessera/",
                "https://example.org/tessera",
            ),
        ] {
            assert_eq!(PublicUrl::parse(given).unwrap().as_str(), kept);
        }
        for bad in [
            "tessera.example.org",
            "ftp://example.org",
            "https://",
            "https://user@example.org",
            "https://example.org/?x=1",
            "https://example.org/#top",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
        let own = PublicUrl::parse("https://Tessera.example.org/t")
            .unwrap()
            .own()
            .unwrap();
        assert_eq!(
            check(Some("https://tessera.example.org"), None, Some(&own)),
            Ok(())
        );
        assert_eq!(
            check(Some("http://tessera.example.org"), None, Some(&own)),
            Err(CrossSite::ForeignOrigin),
            "the scheme is known now"
        );
    }
}
