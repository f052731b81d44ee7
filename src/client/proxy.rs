//! The server's address and the way to it: the base URL (credentials taken out of it), and
//! whether a proxy is used (`NO_PROXY` read the way curl reads it).

use ureq::http::Uri;

use crate::error::{Error, Result};
use crate::util::text::redact;

use super::ProxyMode;

/// The base URL, checked, without credentials; those become an `Authorization` header.
#[derive(Debug, Clone)]
pub(crate) struct BaseUrl {
    /// `scheme://host[:port][/path]`, no trailing slash, no user-info.
    pub url: String,
    /// Lower-case host, without IPv6 brackets.
    pub host: String,
    /// The port, given or implied by the scheme.
    pub port: u16,
    pub https: bool,
    /// `Basic <base64>` when the URL carried credentials.
    pub authorization: Option<String>,
}

impl BaseUrl {
    pub(crate) fn parse(raw: &str) -> Result<BaseUrl> {
        let trimmed = raw.trim().trim_end_matches('/');
        let shown = shown_setting(trimmed);
        let bad = |why: &str| Error::setting("base_url", format!("'{shown}' {why}"));
        let uri: Uri = trimmed.parse().map_err(|_| bad("is not a valid URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("must start with http:// or https://")),
        };
        let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
        if uri.query().is_some() || trimmed.contains('#') {
            return Err(bad("must not have a query or a fragment"));
        }
        let host = authority
            .host()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let (authorization, hostport) = match authority.as_str().rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(basic_auth(userinfo)), hostport),
            None => (None, authority.as_str()),
        };
        let path = uri.path().trim_end_matches('/');
        // `user:pa/ss@host`: an unencoded '/' in a password ends the host early, and the
        // real host would be taken for a path (and shown).
        if path.contains('@') {
            return Err(bad(
                "has an '@' after its host: percent-encode '@', '/', '?' and '#' in a user name \
                 or password (%40, %2F, %3F, %23)",
            ));
        }
        let scheme = if https { "https" } else { "http" };
        Ok(BaseUrl {
            url: format!("{scheme}://{hostport}{path}"),
            host,
            port,
            https,
            authorization,
        })
    }
}

/// A URL the user gave (`--base-url`, `--proxy`) for a message: [`redact`], and everything
/// between `://` and the last `@` hidden too, whatever it holds (a password with an
/// unencoded space or `/`), since such a setting has no other `@`.
fn shown_setting(raw: &str) -> String {
    let hidden = raw.split_once("://").and_then(|(scheme, rest)| {
        let (_, host) = rest.rsplit_once('@')?;
        Some(format!("{scheme}://***@{host}"))
    });
    hidden.unwrap_or_else(|| redact(raw).into_owned())
}

/// `Basic base64(user:password)`, the user-info percent-decoded as browsers and curl do.
fn basic_auth(userinfo: &str) -> String {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(userinfo).collect();
    format!("Basic {}", base64(&decoded))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The proxy to use for `base`, from the mode.
pub(crate) fn choose(mode: &ProxyMode, base: &BaseUrl) -> Result<Option<ureq::Proxy>> {
    match mode {
        // We talk to one host only, so NO_PROXY is decided here, the way curl reads it
        // (ureq does not trim entries, and its bare `example.org` misses subdomains).
        ProxyMode::Env if bypasses_proxy(&base.host) => Ok(None),
        // ureq's order; the first variable that is set wins for every scheme.
        ProxyMode::Env => PROXY_VARIABLES
            .iter()
            .find_map(|v| {
                std::env::var(v)
                    .ok()
                    .filter(|x| !x.trim().is_empty())
                    .map(|x| (*v, x))
            })
            .map(|(var, url)| proxy_from(&url, var))
            .transpose(),
        ProxyMode::None => Ok(None),
        ProxyMode::Url(u) => proxy_from(u, "proxy").map(Some),
    }
}

/// The proxy variables, in the order ureq reads them.
const PROXY_VARIABLES: [&str; 6] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// An HTTP(S) proxy from its URL; `source` names where it came from in errors. SOCKS is
/// refused (ureq is built without it, and would otherwise panic or go around the proxy).
fn proxy_from(url: &str, source: &str) -> Result<ureq::Proxy> {
    let shown = shown_setting(url);
    if url.trim().to_ascii_lowercase().starts_with("socks") {
        return Err(Error::setting(
            "proxy",
            format!(
                "{source}='{shown}': SOCKS proxies are not supported; use an HTTP(S) proxy, or \
                 --no-proxy"
            ),
        ));
    }
    ureq::Proxy::new(url).map_err(|e| {
        Error::setting(
            "proxy",
            format!("{source}='{shown}': {}", redact(&e.to_string())),
        )
    })
}

/// True when `NO_PROXY`/`no_proxy` lists `host`.
fn bypasses_proxy(host: &str) -> bool {
    let list = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default();
    no_proxy_matches(host, &list)
}

/// curl's reading of a NO_PROXY list: comma-separated, spaces trimmed, `*` for all, an entry
/// matches the host itself and its subdomains (a leading `.` or `*.` changes nothing), an
/// optional `:port` is ignored.
fn no_proxy_matches(host: &str, list: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.trim_start_matches('*').trim_start_matches('.');
            let entry = match entry.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or(""),
                None if entry.matches(':').count() == 1 => entry.split(':').next().unwrap_or(""),
                None => entry,
            };
            let entry = entry.to_ascii_lowercase();
            !entry.is_empty()
                && (host == entry
                    || host
                        .strip_suffix(entry.as_str())
                        .is_some_and(|rest| rest.ends_with('.')))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let b = BaseUrl::parse("http://127.0.0.1:80/").unwrap();
        assert_eq!(
            (b.url.as_str(), b.port, b.https),
            ("http://127.0.0.1:80", 80, false)
        );
        let b = BaseUrl::parse("https://NeuroMorpho.org").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("neuromorpho.org", 443));
        let b = BaseUrl::parse("http://cng.gmu.edu:8080/neuroMorpho").unwrap();
        assert_eq!(b.url, "http://cng.gmu.edu:8080/neuroMorpho");
        let b = BaseUrl::parse("http://[::1]:9000").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 9000));
        for bad in [
            "neuromorpho.org",
            "http://",
            "ftp://x",
            "http://x/?q=1",
            "http://a b",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_leave_the_url() {
        let b = BaseUrl::parse("http://alice:s3cret@host:8080").unwrap();
        assert_eq!(b.url, "http://host:8080");
        assert_eq!(b.authorization.as_deref(), Some("Basic YWxpY2U6czNjcmV0"));
        let e = BaseUrl::parse("http://alice:s3cret@host:8080/?x").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        for raw in [
            "http://alice:s3/cret@host:8080",
            "http://alice:s3?cret@host:8080",
            "http://alice:s3 cret@host:8080",
        ] {
            let e = BaseUrl::parse(raw).unwrap_err().to_string();
            assert!(!e.contains("s3") && !e.contains("cret"), "{e}");
            assert!(e.contains("'http://***@host:8080'"), "{e}");
        }
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn no_proxy_like_curl() {
        let h = "cng.gmu.edu";
        assert!(
            no_proxy_matches(h, "localhost, gmu.edu"),
            "trimmed, subdomain"
        );
        assert!(no_proxy_matches(h, ".gmu.edu"));
        assert!(no_proxy_matches(h, "*.gmu.edu"));
        assert!(no_proxy_matches(h, "cng.gmu.edu:8080"));
        assert!(no_proxy_matches(h, "*"));
        assert!(!no_proxy_matches(h, "mu.edu, neuromorpho.org, "));
        assert!(!no_proxy_matches(h, ""));
        assert!(no_proxy_matches("127.0.0.1", "127.0.0.1,localhost"));
        assert!(no_proxy_matches("::1", "[::1]"));
    }
}
