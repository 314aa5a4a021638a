//! The IANA RDAP bootstrap (RFC 9224): which registry serves which address block.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use super::WhoisError;

/// Registry base URLs by address prefix, searched longest prefix first.
#[derive(Debug, Clone, Default)]
pub struct Bootstrap {
    /// (prefix, base URL ending in `/`), sorted by prefix length, longest first.
    entries: Vec<(IpNet, String)>,
}

const ARIN: &str = "https://rdap.arin.net/registry/";
const RIPE: &str = "https://rdap.db.ripe.net/";
const APNIC: &str = "https://rdap.apnic.net/";
const LACNIC: &str = "https://rdap.lacnic.net/rdap/";
const AFRINIC: &str = "https://rdap.afrinic.net/rdap/";

/// A SUBSET of IANA's ipv4.json/ipv6.json, used until a fresh copy is fetched: each
/// RIR's main IPv6 /12 and a sample of its IPv4 /8s. Addresses outside it get
/// [`WhoisError::NoRegistry`] until then.
const BUILTIN: &[(&str, &[&str])] = &[
    (
        ARIN,
        &[
            "3.0.0.0/8",
            "4.0.0.0/8",
            "8.0.0.0/8",
            "23.0.0.0/8",
            "24.0.0.0/8",
            "50.0.0.0/8",
            "63.0.0.0/8",
            "64.0.0.0/8",
            "65.0.0.0/8",
            "66.0.0.0/8",
            "67.0.0.0/8",
            "68.0.0.0/8",
            "69.0.0.0/8",
            "70.0.0.0/8",
            "71.0.0.0/8",
            "72.0.0.0/8",
            "73.0.0.0/8",
            "74.0.0.0/8",
            "75.0.0.0/8",
            "76.0.0.0/8",
            "96.0.0.0/8",
            "97.0.0.0/8",
            "98.0.0.0/8",
            "99.0.0.0/8",
            "104.0.0.0/8",
            "107.0.0.0/8",
            "108.0.0.0/8",
            "142.0.0.0/8",
            "173.0.0.0/8",
            "174.0.0.0/8",
            "184.0.0.0/8",
            "199.0.0.0/8",
            "204.0.0.0/8",
            "205.0.0.0/8",
            "206.0.0.0/8",
            "207.0.0.0/8",
            "208.0.0.0/8",
            "209.0.0.0/8",
            "216.0.0.0/8",
            "2600::/12",
            "2001:400::/23",
        ],
    ),
    (
        RIPE,
        &[
            "2.0.0.0/8",
            "5.0.0.0/8",
            "31.0.0.0/8",
            "37.0.0.0/8",
            "46.0.0.0/8",
            "62.0.0.0/8",
            "77.0.0.0/8",
            "78.0.0.0/8",
            "79.0.0.0/8",
            "80.0.0.0/8",
            "81.0.0.0/8",
            "82.0.0.0/8",
            "83.0.0.0/8",
            "84.0.0.0/8",
            "85.0.0.0/8",
            "86.0.0.0/8",
            "87.0.0.0/8",
            "88.0.0.0/8",
            "89.0.0.0/8",
            "90.0.0.0/8",
            "91.0.0.0/8",
            "92.0.0.0/8",
            "93.0.0.0/8",
            "94.0.0.0/8",
            "95.0.0.0/8",
            "109.0.0.0/8",
            "176.0.0.0/8",
            "178.0.0.0/8",
            "185.0.0.0/8",
            "188.0.0.0/8",
            "193.0.0.0/8",
            "194.0.0.0/8",
            "195.0.0.0/8",
            "212.0.0.0/8",
            "213.0.0.0/8",
            "217.0.0.0/8",
            "2a00::/12",
            "2001:600::/23",
        ],
    ),
    (
        APNIC,
        &[
            "1.0.0.0/8",
            "14.0.0.0/8",
            "27.0.0.0/8",
            "36.0.0.0/8",
            "39.0.0.0/8",
            "42.0.0.0/8",
            "49.0.0.0/8",
            "58.0.0.0/8",
            "59.0.0.0/8",
            "60.0.0.0/8",
            "61.0.0.0/8",
            "101.0.0.0/8",
            "103.0.0.0/8",
            "110.0.0.0/8",
            "111.0.0.0/8",
            "112.0.0.0/8",
            "113.0.0.0/8",
            "114.0.0.0/8",
            "115.0.0.0/8",
            "116.0.0.0/8",
            "117.0.0.0/8",
            "118.0.0.0/8",
            "119.0.0.0/8",
            "120.0.0.0/8",
            "121.0.0.0/8",
            "122.0.0.0/8",
            "123.0.0.0/8",
            "124.0.0.0/8",
            "125.0.0.0/8",
            "180.0.0.0/8",
            "182.0.0.0/8",
            "183.0.0.0/8",
            "202.0.0.0/8",
            "203.0.0.0/8",
            "210.0.0.0/8",
            "211.0.0.0/8",
            "218.0.0.0/8",
            "219.0.0.0/8",
            "220.0.0.0/8",
            "221.0.0.0/8",
            "222.0.0.0/8",
            "223.0.0.0/8",
            "2400::/12",
            "2001:200::/23",
        ],
    ),
    (
        LACNIC,
        &[
            "177.0.0.0/8",
            "179.0.0.0/8",
            "181.0.0.0/8",
            "186.0.0.0/8",
            "187.0.0.0/8",
            "189.0.0.0/8",
            "190.0.0.0/8",
            "191.0.0.0/8",
            "200.0.0.0/8",
            "201.0.0.0/8",
            "2800::/12",
            "2001:1200::/23",
        ],
    ),
    (
        AFRINIC,
        &[
            "41.0.0.0/8",
            "102.0.0.0/8",
            "105.0.0.0/8",
            "154.0.0.0/8",
            "196.0.0.0/8",
            "197.0.0.0/8",
            "2c00::/12",
            "2001:4200::/23",
        ],
    ),
];

impl Bootstrap {
    /// The copy shipped in the binary (a subset, see [`BUILTIN`]).
    pub fn builtin() -> Bootstrap {
        let mut b = Bootstrap::default();
        for (url, prefixes) in BUILTIN {
            for p in *prefixes {
                if let Ok(net) = p.parse() {
                    b.entries.push((net, (*url).to_owned()));
                }
            }
        }
        b.sort();
        b
    }

    /// Adds the services of one bootstrap file (`ipv4.json` or `ipv6.json`):
    /// `{"services": [[["prefix", ...], ["url", ...]], ...]}`. Of a service's URLs the
    /// first https one is used, else the first. Malformed services are skipped; a file
    /// with no usable service at all is an error.
    pub fn add_json(&mut self, body: &[u8]) -> Result<(), WhoisError> {
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
    pub fn base_for(&self, ip: IpAddr) -> Option<&str> {
        let ip = ip.to_canonical();
        self.entries
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|(_, url)| url.as_str())
    }

    /// Number of prefixes known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no prefix is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
