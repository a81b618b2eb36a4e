//! Outbound URLs the server will call (webhook, dynamic action).

use std::net::IpAddr;

use url::{Host, Url};

/// An http(s) URL the operator configured for an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(Url);

/// What to do with hosts inside private networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateTargets {
    Refuse,
    Allow,
}

impl TargetUrl {
    /// Parses and checks an outbound URL. With [`PrivateTargets::Refuse`], literal loopback,
    /// private, link-local and similar addresses and `localhost` are refused here; names that
    /// resolve to such addresses are caught again when a connection is made.
    pub fn parse(s: &str, private: PrivateTargets) -> Result<TargetUrl, String> {
        if s.len() > 2048 {
            return Err("URL is longer than 2048 bytes".into());
        }
        let url = Url::parse(s).map_err(|e| format!("not a valid URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "scheme must be http or https, not {:?}",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("URL must not carry credentials".into());
        }
        let host = url.host().ok_or("URL has no host")?;
        if private == PrivateTargets::Refuse {
            let refused = match &host {
                Host::Domain(d) => {
                    let d = d.trim_end_matches('.');
                    d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost")
                }
                Host::Ipv4(ip) => is_private(IpAddr::V4(*ip)),
                Host::Ipv6(ip) => is_private(IpAddr::V6(*ip)),
            };
            if refused {
                return Err(format!(
                    "host {host} is a loopback or private address; the server is not \
                     allowed to call those (see --allow-private-targets)"
                ));
            }
        }
        Ok(TargetUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Addresses a webhook must never reach unless the operator allows it: loopback, private,
/// link-local (including the cloud metadata address 169.254.169.254), CGNAT, multicast,
/// unspecified, broadcast, documentation and IPv6 unique-local ranges.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_are_accepted() {
        assert!(TargetUrl::parse("https://example.com/hook", PrivateTargets::Refuse).is_ok());
        assert!(TargetUrl::parse("ftp://example.com/", PrivateTargets::Allow).is_err());
        assert!(TargetUrl::parse("file:///etc/passwd", PrivateTargets::Allow).is_err());
        assert!(TargetUrl::parse("not a url", PrivateTargets::Allow).is_err());
        assert!(TargetUrl::parse("https://u:p@example.com/", PrivateTargets::Allow).is_err());
    }

    #[test]
    fn private_hosts_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[::ffff:192.168.0.1]/",
            "http://[fd00::1]/",
            "http://0.0.0.0/",
        ] {
            assert!(
                TargetUrl::parse(url, PrivateTargets::Refuse).is_err(),
                "{url}"
            );
            assert!(
                TargetUrl::parse(url, PrivateTargets::Allow).is_ok(),
                "{url}"
            );
        }
        assert!(TargetUrl::parse("http://8.8.8.8/", PrivateTargets::Refuse).is_ok());
    }
}
