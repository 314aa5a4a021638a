//! Who an address is: local GeoIP databases and the RDAP whois worker;
//! whether it is already blocked.

pub(crate) mod blocked;
pub mod geoip;
pub(crate) mod whois;

/// The attribution DB-IP Lite's licence asks for (CC BY 4.0): `--help`,
/// `--version` and the dashboard's help say it when GeoIP uses DB-IP's files.
pub(crate) const DBIP_CREDIT: &str =
    "IP geolocation by DB-IP (https://db-ip.com), licensed under CC BY 4.0.";
