//! The IANA RDAP bootstrap (RFC 9224): which registry serves which address block.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use serde_json::Value;

use super::cache::StoredBootstrap;
use super::WhoisError;

/// Registry base URLs by address prefix, searched longest prefix first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bootstrap {
    /// (prefix, base URL ending in `/`), sorted by prefix length, longest first.
    entries: Vec<(IpNet, String)>,
    /// Searched (the same way) only when no entry matches: the built-in copy beneath a
    /// fetched one. A longer built-in prefix must not beat a fetched shorter one.
    fallback: Vec<(IpNet, String)>,
}

const ARIN: &str = "https://rdap.arin.net/registry/";
const RIPE: &str = "https://rdap.db.ripe.net/";
const APNIC: &str = "https://rdap.apnic.net/";
const LACNIC: &str = "https://rdap.lacnic.net/rdap/";
const AFRINIC: &str = "https://rdap.afrinic.net/rdap/";

/// IANA's IPv4 /8s by registry, as `ipv4.json` lists them: every /8 delegated to a
/// RIR, and every legacy /8 under the registry that administers it (most under ARIN).
/// 0, 10, 127 and 224-255 are nobody's. Used until (and beneath) a fetched copy.
const BUILTIN_V4: &[(&str, &[u8])] = &[
    (
        ARIN,
        &[
            3, 4, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 28, 29, 30,
            32, 33, 34, 35, 38, 40, 44, 45, 47, 48, 50, 52, 54, 55, 56, 63, 64, 65, 66, 67, 68, 69,
            70, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99, 100, 104, 107, 108, 128, 129, 130, 131,
            132, 134, 135, 136, 137, 138, 139, 140, 142, 143, 144, 146, 147, 148, 149, 152, 155,
            156, 157, 158, 159, 160, 161, 162, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173,
            174, 184, 192, 198, 199, 204, 205, 206, 207, 208, 209, 214, 215, 216,
        ],
    ),
    (
        RIPE,
        &[
            2, 5, 25, 31, 37, 46, 51, 53, 57, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88,
            89, 90, 91, 92, 93, 94, 95, 109, 141, 145, 151, 176, 178, 185, 188, 193, 194, 195, 212,
            213, 217,
        ],
    ),
    (
        APNIC,
        &[
            1, 14, 27, 36, 39, 42, 43, 49, 58, 59, 60, 61, 101, 103, 106, 110, 111, 112, 113, 114,
            115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 133, 150, 153, 163, 175,
            180, 182, 183, 202, 203, 210, 211, 218, 219, 220, 221, 222, 223,
        ],
    ),
    (LACNIC, &[177, 179, 181, 186, 187, 189, 190, 191, 200, 201]),
    (AFRINIC, &[41, 102, 105, 154, 196, 197]),
];

/// IANA's IPv6 unicast assignments to the RIRs, as `ipv6.json` lists them.
const BUILTIN_V6: &[(&str, &[&str])] = &[
    (
        ARIN,
        &[
            "2001:400::/23",
            "2001:1800::/23",
            "2001:4800::/23",
            "2600::/12",
            "2610::/23",
            "2620::/23",
            "2630::/12",
        ],
    ),
    (
        RIPE,
        &[
            "2001:600::/23",
            "2001:800::/22",
            "2001:1400::/22",
            "2001:1a00::/23",
            "2001:1c00::/22",
            "2001:2000::/20",
            "2001:3000::/21",
            "2001:3800::/22",
            "2001:4000::/23",
            "2001:4600::/23",
            "2001:4a00::/23",
            "2001:4c00::/23",
            "2001:5000::/20",
            "2003::/18",
            "2a00::/12",
            "2a10::/12",
        ],
    ),
    (
        APNIC,
        &[
            "2001:200::/23",
            "2001:c00::/23",
            "2001:e00::/23",
            "2001:4400::/23",
            "2001:8000::/19",
            "2001:a000::/20",
            "2001:b000::/20",
            "2400::/12",
        ],
    ),
    (LACNIC, &["2001:1200::/23", "2800::/12"]),
    (AFRINIC, &["2001:4200::/23", "2c00::/12"]),
];

impl Bootstrap {
    /// The copy shipped in the binary ([`BUILTIN_V4`], [`BUILTIN_V6`]): every address
    /// IANA has given to a registry has one, fetched copy or not.
    pub(crate) fn builtin() -> Bootstrap {
        let mut b = Bootstrap::default();
        for (url, firsts) in BUILTIN_V4 {
            for &a in *firsts {
                let net = ipnet::Ipv4Net::new(Ipv4Addr::new(a, 0, 0, 0), 8);
                if let Ok(net) = net {
                    b.entries.push((IpNet::V4(net), (*url).to_owned()));
                }
            }
        }
        for (url, prefixes) in BUILTIN_V6 {
            for p in *prefixes {
                if let Ok(net) = p.parse() {
                    b.entries.push((net, (*url).to_owned()));
                }
            }
        }
        b.sort();
        b
    }

    /// A fetched copy over the built-in one: the fetched files win wherever they list a
    /// prefix, the built-in copy answers for what they lack (a family whose file was
    /// unusable, a block missing from a truncated file).
    pub(crate) fn from_stored(stored: &StoredBootstrap) -> Bootstrap {
        let mut fetched = Bootstrap::default();
        for body in [&stored.ipv4, &stored.ipv6].into_iter().flatten() {
            // An unusable file adds nothing; the built-in copy covers its family.
            let _ = fetched.add_json(body.as_bytes());
        }
        fetched.over(Bootstrap::builtin())
    }

    /// `self` with `lower` beneath it: `lower` answers only for addresses no prefix of
    /// `self` covers.
    pub(crate) fn over(mut self, lower: Bootstrap) -> Bootstrap {
        // Tiers one after the other, each sorted: the first tier that matches answers.
        self.fallback.extend(lower.entries);
        self.fallback.extend(lower.fallback);
        self
    }

    /// Adds the services of one bootstrap file (`ipv4.json` or `ipv6.json`):
    /// `{"services": [[["prefix", ...], ["url", ...]], ...]}`. Of a service's URLs the
    /// first https one is used, else the first. Malformed services are skipped; a file
    /// with no usable service at all is an error.
    pub(crate) fn add_json(&mut self, body: &[u8]) -> Result<(), WhoisError> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| WhoisError::BadAnswer(e.to_string()))?;
        let services = v
            .get("services")
            .and_then(Value::as_array)
            .ok_or_else(|| WhoisError::BadAnswer("bootstrap without services".to_owned()))?;
        let before = self.entries.len();
        for service in services {
            self.add_service(service);
        }
        if self.entries.len() == before {
            return Err(WhoisError::BadAnswer(
                "bootstrap without usable services".to_owned(),
            ));
        }
        self.sort();
        Ok(())
    }

    fn add_service(&mut self, service: &Value) {
        let Some([prefixes, urls, ..]) = service.as_array().map(Vec::as_slice) else {
            return;
        };
        let urls: Vec<&str> = urls
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(url) = urls
            .iter()
            .find(|u| u.starts_with("https://"))
            .or_else(|| urls.iter().find(|u| u.starts_with("http://")))
        else {
            return;
        };
        let mut base = (*url).to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        for p in prefixes.as_array().into_iter().flatten() {
            if let Some(net) = p.as_str().and_then(|s| s.parse::<IpNet>().ok()) {
                self.entries.push((net.trunc(), base.clone()));
            }
        }
    }

    fn sort(&mut self) {
        self.entries
            .sort_by_key(|e| std::cmp::Reverse(e.0.prefix_len()));
    }

    /// The base URL (ending in `/`) of the registry for `ip`: longest matching prefix.
    pub(crate) fn base_for(&self, ip: IpAddr) -> Option<&str> {
        let ip = ip.to_canonical();
        self.entries
            .iter()
            .chain(&self.fallback)
            .find(|(net, _)| net.contains(&ip))
            .map(|(_, url)| url.as_str())
    }

    /// Every (prefix, base URL) above the fallback, longest prefix first.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&IpNet, &str)> {
        self.entries.iter().map(|(net, url)| (net, url.as_str()))
    }
}
