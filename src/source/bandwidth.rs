//! Live rx/tx of one network interface for the header, from
//! `/sys/class/net/IFACE/statistics/{rx,tx}_bytes`, read on each tick.
//!
//! The interface is `interface` from the config, else the one holding the
//! IPv4 default route (`/proc/net/route`), read once at start.

use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::Path;
use std::time::Instant;

use crate::sys::file::{self, Links};

/// Bytes per second received and sent, over the last tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rates {
    pub(crate) rx: f64,
    pub(crate) tx: f64,
}

pub(crate) struct Bandwidth {
    iface: String,
    counters: Option<(File, File)>,
    last: Option<(Instant, u64, u64)>,
    rates: Option<Rates>,
    error: Option<String>,
}

impl Bandwidth {
    /// The configured interface, or the default route's, under `sys_root`
    /// (`/sys` on a live system) with the route table at `route_table`.
    pub(crate) fn open(configured: Option<&str>, sys_root: &Path, route_table: &Path) -> Bandwidth {
        let iface = match configured {
            Some(name) => Some(name.to_string()),
            None => read_route_table(route_table)
                .ok()
                .and_then(|t| default_route_iface(&t)),
        };
        let Some(iface) = iface else {
            return Bandwidth::failed(String::new(), "no default route".into());
        };
        if iface.is_empty() || iface.contains('/') || iface.starts_with('.') {
            return Bandwidth::failed(iface, "not an interface name".into());
        }
        let stats = sys_root.join("class/net").join(&iface).join("statistics");
        match (
            file::open_read(&stats.join("rx_bytes"), Links::Follow),
            file::open_read(&stats.join("tx_bytes"), Links::Follow),
        ) {
            (Ok(rx), Ok(tx)) => Bandwidth {
                iface,
                counters: Some((rx, tx)),
                last: None,
                rates: None,
                error: None,
            },
            (Err(e), _) | (_, Err(e)) => Bandwidth::failed(iface, e.to_string()),
        }
    }

    /// The live system's view: `/sys` and `/proc/net/route`.
    pub(crate) fn system(configured: Option<&str>) -> Bandwidth {
        Bandwidth::open(configured, Path::new("/sys"), Path::new("/proc/net/route"))
    }

    fn failed(iface: String, error: String) -> Bandwidth {
        Bandwidth {
            iface,
            counters: None,
            last: None,
            rates: None,
            error: Some(error),
        }
    }

    /// Read the counters; rates are known from the second reading on.
    pub(crate) fn on_tick(&mut self, now: Instant) {
        let Some((rx_file, tx_file)) = self.counters.as_mut() else {
            return;
        };
        let (rx, tx) = match (read_counter(rx_file), read_counter(tx_file)) {
            (Ok(rx), Ok(tx)) => (rx, tx),
            (Err(e), _) | (_, Err(e)) => {
                self.error = Some(e.to_string());
                return;
            }
        };
        if let Some((then, rx0, tx0)) = self.last {
            let secs = now.duration_since(then).as_secs_f64();
            if secs > 0.0 {
                // A counter that went back (interface reset) gives 0, not a wrap.
                self.rates = Some(Rates {
                    rx: rx.saturating_sub(rx0) as f64 / secs,
                    tx: tx.saturating_sub(tx0) as f64 / secs,
                });
            }
        }
        self.last = Some((now, rx, tx));
        self.error = None;
    }

    pub(crate) fn iface(&self) -> &str {
        &self.iface
    }

    pub(crate) fn rates(&self) -> Option<Rates> {
        self.rates
    }

    pub(crate) fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

/// A sysfs counter: one decimal number and a newline, re-read from the start.
fn read_counter(file: &mut File) -> io::Result<u64> {
    let mut buf = [0u8; 32];
    file.rewind()?;
    let n = file.read(&mut buf)?;
    let text =
        std::str::from_utf8(&buf[..n]).map_err(|_| io::Error::other("counter is not text"))?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::other("counter is not a number"))
}

/// Largest route table read: 128 bytes a route, so 500 000 routes. A router
/// holding a full BGP table (about a million) is over it and shows "no
/// default route": there `interface` names the interface instead.
const MAX_ROUTE_TABLE: u64 = 64 << 20; // 64 MiB

fn read_route_table(path: &Path) -> io::Result<Vec<u8>> {
    let mut table = file::open_read(path, Links::Follow)?;
    let mut buf = Vec::new();
    file::read_capped(&mut table, MAX_ROUTE_TABLE, &mut buf)?;
    Ok(buf)
}

/// The interface of the first up default route in `/proc/net/route`
/// (columns: Iface, Destination, Gateway, Flags, …; hex, destination 0).
fn default_route_iface(table: &[u8]) -> Option<String> {
    const RTF_UP: u32 = 0x1;
    let text = std::str::from_utf8(table).ok()?;
    text.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        let (iface, dest, _gateway, flags) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        let flags = u32::from_str_radix(flags, 16).ok()?;
        (dest == "00000000" && flags & RTF_UP != 0).then(|| iface.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::Duration;

    const ROUTES: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
        wg0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\n\
        down0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\n\
        ens3\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n";

    fn sys_with(dir: &Path, iface: &str, rx: u64, tx: u64) {
        let stats = dir.join("class/net").join(iface).join("statistics");
        fs::create_dir_all(&stats).unwrap();
        fs::write(stats.join("rx_bytes"), format!("{rx}\n")).unwrap();
        fs::write(stats.join("tx_bytes"), format!("{tx}\n")).unwrap();
    }

    #[test]
    fn default_route_is_the_first_up_zero_destination() {
        assert_eq!(
            default_route_iface(ROUTES.as_bytes()).as_deref(),
            Some("ens3")
        );
        assert_eq!(default_route_iface(b"Iface\tDestination\n"), None);
        assert_eq!(default_route_iface(b"\xff\xfe garbage"), None);
    }

    #[test]
    fn rates_from_two_readings() {
        let dir = tempfile::tempdir().unwrap();
        let routes = dir.path().join("route");
        fs::write(&routes, ROUTES).unwrap();
        sys_with(dir.path(), "ens3", 1000, 500);
        let mut bw = Bandwidth::open(None, dir.path(), &routes);
        assert_eq!((bw.iface(), bw.error()), ("ens3", None));
        let t0 = Instant::now();
        bw.on_tick(t0);
        assert_eq!(bw.rates(), None, "one reading gives no rate");
        sys_with(dir.path(), "ens3", 3000, 1500);
        bw.on_tick(t0 + Duration::from_secs(2));
        assert_eq!(
            bw.rates(),
            Some(Rates {
                rx: 1000.0,
                tx: 500.0
            })
        );
        sys_with(dir.path(), "ens3", 10, 10); // counters reset
        bw.on_tick(t0 + Duration::from_secs(3));
        assert_eq!(bw.rates(), Some(Rates { rx: 0.0, tx: 0.0 }));
    }

    /// A FIFO as a counter or as the route table is refused, not waited on.
    #[test]
    fn special_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        sys_with(dir.path(), "eth7", 1, 1);
        let rx = dir.path().join("class/net/eth7/statistics/rx_bytes");
        fs::remove_file(&rx).unwrap();
        let fifo = |p: &Path| {
            crate::sys::file::mkfifo(p, 0o600).unwrap();
        };
        fifo(&rx);
        let route = dir.path().join("route");
        fifo(&route);
        let bw = Bandwidth::open(Some("eth7"), dir.path(), &route);
        assert_eq!(bw.error(), Some("not a regular file (a FIFO)"));
        let bw = Bandwidth::open(None, dir.path(), &route);
        assert_eq!(bw.error(), Some("no default route"));
    }

    #[test]
    fn configured_interface_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        sys_with(dir.path(), "eth7", 1, 1);
        let none = dir.path().join("no-route");
        assert_eq!(
            Bandwidth::open(Some("eth7"), dir.path(), &none).error(),
            None
        );
        assert!(Bandwidth::open(Some("eth8"), dir.path(), &none)
            .error()
            .is_some());
        assert!(Bandwidth::open(Some("../../etc"), dir.path(), &none)
            .error()
            .is_some());
        assert_eq!(
            Bandwidth::open(None, dir.path(), &none).error(),
            Some("no default route")
        );
    }
}
