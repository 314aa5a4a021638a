//! Who an address is: local GeoIP databases (and, later, the whois worker).

pub mod geoip;
