//! Who an address is: local GeoIP databases and the RDAP whois worker.

pub mod geoip;
pub mod whois;
