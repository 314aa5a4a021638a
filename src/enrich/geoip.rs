//! Country, city, ASN and organisation from local MaxMind DB (`.mmdb`) files.
//!
//! Two slots, `[geoip] city_db` and `asn_db`. Each file is memory-mapped: a
//! GeoLite2-City file is ~60 MB and DB-IP City Lite ~130 MB, of which a run
//! touches a few pages; the mapping shares the page cache instead of copying
//! it onto our heap.
//!
//! What a file provides is decided by what the file says: its metadata's
//! `database_type` names the product (see [`Kinds::of_type`]), and at lookup
//! each record's own fields give the values (GeoLite2, GeoIP2 and DB-IP share
//! the field names), so a DB-IP file that also carries ASN fields serves both
//! slots. No file is judged by sample addresses: a country-only or custom
//! database that covers none of the addresses anyone would guess still works.
//!
//! Nothing here fails: a missing, unreadable or broken database becomes a
//! [`GeoIp::note`] for the header and the summary, and lookups come back empty.
//! A file that opens but is corrupt further in is noted by the first lookup
//! that meets the damage.

use std::cell::OnceCell;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use maxminddb::{MaxMindDbError, Mmap, Reader};
use serde::Deserialize;

use crate::config::GeoipConfig;
use crate::net::is_public;
pub(crate) use crate::net::GeoInfo;

/// Which kinds of data a database provides, by its metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Kinds {
    /// `country.iso_code` or `city.names.en`.
    pub(crate) city: bool,
    /// `autonomous_system_number` or `autonomous_system_organization`
    /// (top level, or under `traits` in Enterprise files).
    pub(crate) asn: bool,
}

/// Words of a `database_type` that name country or city data: MaxMind's
/// `GeoIP2-City`, `GeoLite2-Country`, DB-IP's `DBIP-City-Lite`,
/// `DBIP-Location (compat=City)`.
const CITY_WORDS: [&str; 3] = ["city", "country", "location"];
/// Words that name ASN data: `GeoLite2-ASN`, `GeoIP2-ISP`, `DBIP-ASN-Lite`.
const ASN_WORDS: [&str; 2] = ["asn", "isp"];
/// Products with both (`GeoIP2-Enterprise`, `DBIP-ISP (compat=Enterprise)`).
const BOTH_WORDS: [&str; 1] = ["enterprise"];
/// MaxMind's own names start with these; any of its products not named by
/// the words above (Anonymous-IP, Connection-Type, Domain, IP-Risk, ...)
/// carries neither kind.
const MAXMIND_PREFIXES: [&str; 4] = ["geoip", "geoip2", "geolite", "geolite2"];

impl Kinds {
    const BOTH: Kinds = Kinds {
        city: true,
        asn: true,
    };

    /// What a database whose metadata says `database_type` provides, by the
    /// words of that name (split at every non-alphanumeric character, any
    /// case). A name with none of our words is a custom or unknown product:
    /// it serves both kinds and each record's fields decide at lookup. `None`
    /// for a MaxMind product that carries neither.
    pub(crate) fn of_type(database_type: &str) -> Option<Kinds> {
        let words = || {
            database_type
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
        };
        let has = |names: &[&str]| words().any(|w| names.iter().any(|n| w.eq_ignore_ascii_case(n)));
        let both = has(&BOTH_WORDS);
        let kinds = Kinds {
            city: both || has(&CITY_WORDS),
            asn: both || has(&ASN_WORDS),
        };
        if kinds != Kinds::default() {
            return Some(kinds);
        }
        let maxmind = words()
            .next()
            .is_some_and(|w| MAXMIND_PREFIXES.iter().any(|p| w.eq_ignore_ascii_case(p)));
        (!maxmind).then_some(Kinds::BOTH)
    }
}

/// The GeoIP databases of one run. Cheap to query, never an error.
#[derive(Debug)]
pub(crate) struct GeoIp {
    enabled: bool,
    slots: [Slot; 2],
    /// All slot notes joined, rebuilt whenever a slot changes.
    note: Option<String>,
    /// `note` plus the first failed lookup in a database that opened (its
    /// metadata is sound, its tree or data corrupt). Set from `lookup(&self)`;
    /// cleared whenever `note` is rebuilt.
    fault_note: OnceCell<String>,
}

/// Which configured file a slot stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    City,
    Asn,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::City => "city",
            Role::Asn => "ASN",
        }
    }

    /// File names DB-IP Lite downloads carry (`dbip-city-lite-2026-11.mmdb`).
    fn dbip_prefix(self) -> &'static str {
        match self {
            Role::City => "dbip-city-lite",
            Role::Asn => "dbip-asn-lite",
        }
    }

    fn wants(self, kinds: Kinds) -> bool {
        match self {
            Role::City => kinds.city,
            Role::Asn => kinds.asn,
        }
    }
}

/// Identity of a file on disk: a rename over it changes `ino`, an in-place
/// rewrite changes `size` or `mtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Stamp {
    fn of(path: &Path) -> io::Result<Stamp> {
        let m = fs::metadata(path)?;
        Ok(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        })
    }

    fn same_inode(&self, other: &Stamp) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }
}

/// One opened database.
struct Db {
    reader: Reader<Mmap>,
    path: PathBuf,
    stamp: Stamp,
    kinds: Kinds,
    dbip: bool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .field("kinds", &self.kinds)
            .field("dbip", &self.dbip)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Slot {
    role: Role,
    configured: PathBuf,
    db: Option<Db>,
    /// A file that failed to open, so it is not retried every tick.
    rejected: Option<(PathBuf, Stamp)>,
    note: Option<String>,
}

/// The fields we read, borrowed from the mapping: decoding allocates nothing.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Iso<'a>>,
    #[serde(borrow)]
    registered_country: Option<Iso<'a>>,
    #[serde(borrow)]
    city: Option<Named<'a>>,
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
    /// Enterprise files keep the ASN fields here.
    #[serde(borrow)]
    traits: Option<Traits<'a>>,
}

#[derive(Deserialize)]
struct Traits<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Deserialize)]
struct Iso<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    /// `names.en`: read only by [`GeoIp::country_name`].
    #[serde(borrow)]
    names: Option<En<'a>>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    names: Option<En<'a>>,
}

#[derive(Deserialize)]
struct En<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

impl<'a> Record<'a> {
    fn country(&self) -> Option<&'a str> {
        let code = |c: &Option<Iso<'a>>| c.as_ref().and_then(|c| c.iso_code);
        non_empty(code(&self.country)).or_else(|| non_empty(code(&self.registered_country)))
    }

    /// The English name of the country [`Record::country`] gives the code of.
    fn country_name(&self) -> Option<&'a str> {
        let code = |c: &Option<Iso<'a>>| non_empty(c.as_ref().and_then(|c| c.iso_code));
        let country = if code(&self.country).is_some() {
            self.country.as_ref()
        } else {
            self.registered_country.as_ref()
        };
        non_empty(country?.names.as_ref()?.en)
    }

    fn city(&self) -> Option<&'a str> {
        non_empty(self.city.as_ref()?.names.as_ref()?.en)
    }

    fn asn(&self) -> Option<u32> {
        let traits = self.traits.as_ref();
        self.autonomous_system_number
            .or_else(|| traits?.autonomous_system_number)
    }

    fn org(&self) -> Option<&'a str> {
        let traits = self.traits.as_ref();
        non_empty(self.autonomous_system_organization)
            .or_else(|| non_empty(traits?.autonomous_system_organization))
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// Why a file can't serve as a GeoIP database.
#[derive(Debug)]
enum Unusable {
    /// Not a file, not a MaxMind DB, or corrupt: the reader's message.
    Unreadable(String),
    /// A MaxMind product without country, city or ASN data (its type).
    NotGeo(String),
}

/// Longest `database_type` quoted in a note (it comes from the file).
const MAX_TYPE_CHARS: usize = 64;

impl Unusable {
    fn unreadable(e: impl std::fmt::Display) -> Unusable {
        Unusable::Unreadable(e.to_string())
    }

    fn not_geo(database_type: &str) -> Unusable {
        Unusable::NotGeo(database_type.chars().take(MAX_TYPE_CHARS).collect())
    }

    /// The note's words after "GeoIP city database PATH ".
    fn describe(&self) -> String {
        match self {
            Unusable::Unreadable(msg) => format!("unreadable: {msg}"),
            Unusable::NotGeo(kind) => format!(
                "is a {kind} database: its records carry neither country/city nor ASN fields"
            ),
        }
    }

    /// The note's words after "... was replaced by ".
    fn as_replacement(&self) -> String {
        match self {
            Unusable::Unreadable(msg) => format!("an unreadable file ({msg})"),
            Unusable::NotGeo(kind) => {
                format!("a {kind} database, which carries neither country/city nor ASN fields")
            }
        }
    }
}

impl Db {
    /// Maps `path` and reads what it provides from its metadata.
    fn open(path: &Path) -> Result<Db, Unusable> {
        let stamp = Stamp::of(path).map_err(Unusable::unreadable)?;
        // maxminddb opens by path with a blocking open: a FIFO there would hang
        // the start. Checked the way every file we read is, just before.
        crate::sys::file::open_read(path, crate::sys::file::Links::Follow)
            .map_err(Unusable::unreadable)?;
        // SAFETY: the mapping is only sound while nobody truncates or rewrites
        // the file in place. Updaters (geoipupdate, DB-IP scripts) write a new
        // file and rename it over the old one, which leaves our inode intact;
        // `reopen_if_changed` drops a mapping whose inode changed in place.
        let reader = unsafe { Reader::open_mmap(path) }.map_err(Unusable::unreadable)?;
        let database_type = &reader.metadata().database_type;
        let kinds =
            Kinds::of_type(database_type).ok_or_else(|| Unusable::not_geo(database_type))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase());
        let dbip = name.is_some_and(|n| n.starts_with("dbip"))
            || reader
                .metadata()
                .database_type
                .to_ascii_lowercase()
                .contains("dbip");
        Ok(Db {
            reader,
            path: path.to_path_buf(),
            stamp,
            kinds,
            dbip,
        })
    }

    /// Decodes the record for `ip`; `None` when absent or undecodable.
    /// Decodes the record for `ip`: `Ok(None)` when the file has none (or
    /// is IPv4-only and `ip` is IPv6), `Err` when the file is corrupt there.
    fn record(&self, ip: IpAddr) -> Result<Option<Record<'_>>, MaxMindDbError> {
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        self.reader.lookup(ip)?.decode::<Record>()
    }
}

/// The file a slot should use: the configured one, or when it does not exist,
/// the newest (by name) `dbip-<kind>-lite*.mmdb` in the same folder.
fn resolve(configured: &Path, role: Role) -> PathBuf {
    match fs::metadata(configured) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            dbip_fallback(configured, role).unwrap_or_else(|| configured.to_path_buf())
        }
        _ => configured.to_path_buf(),
    }
}

fn dbip_fallback(configured: &Path, role: Role) -> Option<PathBuf> {
    let dir = match configured.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let prefix = role.dbip_prefix();
    fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| {
            let n = n.to_string_lossy();
            n.starts_with(prefix) && n.ends_with(".mmdb")
        })
        .max()
        .map(|n| dir.join(n))
}

impl Slot {
    fn new(role: Role, configured: &Path) -> Slot {
        let mut slot = Slot {
            role,
            configured: configured.to_path_buf(),
            db: None,
            rejected: None,
            note: None,
        };
        slot.refresh();
        slot
    }

    /// Opens the slot's file if it differs from what is loaded. Returns
    /// whether anything (database or note) changed.
    fn refresh(&mut self) -> bool {
        let path = resolve(&self.configured, self.role);
        let stamp = match Stamp::of(&path) {
            Ok(s) => s,
            Err(e) => return self.unavailable(&path, &e),
        };
        let loaded = self
            .db
            .as_ref()
            .is_some_and(|d| d.path == path && d.stamp == stamp);
        if loaded || self.rejected.as_ref() == Some(&(path.clone(), stamp)) {
            return false;
        }
        match Db::open(&path) {
            Ok(db) => {
                self.db = Some(db);
                self.rejected = None;
                self.set_note(None);
                true
            }
            Err(why) => self.broken(path, stamp, &why),
        }
    }

    /// The file is missing or can't be stat'ed: a loaded copy stays usable
    /// (an unlinked inode stays mapped), otherwise the slot is empty.
    fn unavailable(&mut self, path: &Path, err: &io::Error) -> bool {
        let what = self.role.label();
        let note = match (&self.db, err.kind()) {
            (Some(db), _) => format!(
                "GeoIP {what} database {} is gone ({err}); still using the copy loaded before",
                db.path.display()
            ),
            (None, io::ErrorKind::NotFound) => format!(
                "GeoIP {what} database not found: {} (nor {}*.mmdb beside it)",
                path.display(),
                self.role.dbip_prefix()
            ),
            (None, _) => format!("GeoIP {what} database {}: {err}", path.display()),
        };
        self.set_note(Some(note))
    }

    /// `path` failed to open. A previous database from another inode is kept;
    /// one rewritten in place is dropped, since its mapping now shows the
    /// half-written bytes.
    fn broken(&mut self, path: PathBuf, stamp: Stamp, why: &Unusable) -> bool {
        let what = self.role.label();
        let rewritten = self.db.as_ref().is_some_and(|d| d.stamp.same_inode(&stamp));
        if rewritten {
            self.db = None;
        }
        let note = match &self.db {
            Some(_) => format!(
                "GeoIP {what} database {} was replaced by {}; still using the previous one",
                path.display(),
                why.as_replacement()
            ),
            None => format!(
                "GeoIP {what} database {} {}",
                path.display(),
                why.describe()
            ),
        };
        self.rejected = Some((path, stamp));
        self.set_note(Some(note))
    }

    fn set_note(&mut self, note: Option<String>) -> bool {
        let changed = self.note != note;
        self.note = note;
        changed
    }
}

impl GeoIp {
    /// Opens the configured databases. Never fails; see [`GeoIp::note`].
    pub(crate) fn open(config: &GeoipConfig) -> GeoIp {
        let slots = if config.enabled {
            [
                Slot::new(Role::City, &config.city_db),
                Slot::new(Role::Asn, &config.asn_db),
            ]
        } else {
            [Slot::empty(Role::City), Slot::empty(Role::Asn)]
        };
        let mut geo = GeoIp {
            enabled: config.enabled,
            slots,
            note: None,
            fault_note: OnceCell::new(),
        };
        geo.rebuild_note();
        geo
    }

    /// [`GeoIp::lookup`] for a row: `None` when nothing is known (boxed, so
    /// a row without a record holds 8 bytes).
    pub(crate) fn lookup_boxed(&self, ip: IpAddr) -> Option<Box<GeoInfo>> {
        let info = self.lookup(ip);
        (info != GeoInfo::default()).then(|| Box::new(info))
    }

    /// Looks `ip` up. Private and reserved addresses come back empty without a
    /// lookup. Allocates only the returned strings.
    pub(crate) fn lookup(&self, ip: IpAddr) -> GeoInfo {
        let mut info = GeoInfo::default();
        if !self.enabled || !is_public(ip) {
            return info;
        }
        let ip = ip.to_canonical();
        let city_db = self.provider(Role::City);
        let asn_db = self.provider(Role::Asn);
        match (city_db, asn_db) {
            (Some(c), Some(a)) if std::ptr::eq(c, a) => {
                if let Some(rec) = self.record(c, ip) {
                    fill_city(&mut info, &rec);
                    fill_asn(&mut info, &rec);
                }
            }
            _ => {
                if let Some(rec) = city_db.and_then(|d| self.record(d, ip)) {
                    fill_city(&mut info, &rec);
                }
                if let Some(rec) = asn_db.and_then(|d| self.record(d, ip)) {
                    fill_asn(&mut info, &rec);
                }
            }
        }
        info
    }

    /// The English name of `ip`'s country (`country.names.en`, else
    /// `registered_country`'s), from the city database. Looked up when the
    /// drill-down shows it: rows keep the code only (a name per row would
    /// cost ~40 bytes at every row with a country).
    pub(crate) fn country_name(&self, ip: IpAddr) -> Option<String> {
        if !self.enabled || !is_public(ip) {
            return None;
        }
        let db = self.provider(Role::City)?;
        let rec = self.record(db, ip.to_canonical())?;
        rec.country_name().map(str::to_owned)
    }

    /// Reopens a database whose file was replaced (new inode, size or mtime),
    /// appeared, or — for the DB-IP fallback — has a newer file beside it.
    /// Costs one or two `stat`s (plus a directory listing while a configured
    /// file is absent). A broken new file keeps the old database and sets a
    /// note. Returns whether anything changed (so the header can redraw).
    pub(crate) fn reopen_if_changed(&mut self) -> bool {
        if !self.enabled {
            return false;
        }
        let mut changed = false;
        for slot in &mut self.slots {
            changed |= slot.refresh();
        }
        if changed {
            self.rebuild_note();
        }
        changed
    }

    /// Why GeoIP is missing or degraded, for the header and the summary's
    /// sources; `None` when all is well (or GeoIP is off).
    pub(crate) fn note(&self) -> Option<&str> {
        let fault = self.fault_note.get().map(String::as_str);
        fault.or(self.note.as_deref())
    }

    /// `db`'s record for `ip`. A record of another shape (a custom file's
    /// string or array) is no record; so is a corrupt spot in the tree or the
    /// data, and the first one found goes into the note.
    fn record<'d>(&self, db: &'d Db, ip: IpAddr) -> Option<Record<'d>> {
        match db.record(ip) {
            Ok(rec) => rec,
            Err(MaxMindDbError::Decoding { .. }) => None,
            Err(err) => {
                self.note_fault(db, &err);
                None
            }
        }
    }

    fn note_fault(&self, db: &Db, err: &MaxMindDbError) {
        if self.fault_note.get().is_some() {
            return;
        }
        let fault = format!(
            "GeoIP database {} looks corrupt: a lookup failed ({err})",
            db.path.display()
        );
        let note = match &self.note {
            Some(note) => format!("{note}; {fault}"),
            None => fault,
        };
        let _ = self.fault_note.set(note);
    }

    /// Whether DB-IP data is in use: `--help` and `--version` must then credit
    /// it ("IP geolocation by DB-IP", CC BY 4.0).
    pub(crate) fn uses_dbip(&self) -> bool {
        self.slots
            .iter()
            .filter_map(|s| s.db.as_ref())
            .any(|d| d.dbip)
    }

    /// Whether any database is loaded (a lookup can return something).
    pub(crate) fn is_active(&self) -> bool {
        self.enabled && self.slots.iter().any(|s| s.db.is_some())
    }

    /// The loaded files and what each provides, e.g.
    /// `GeoLite2-City.mmdb (city), GeoLite2-ASN.mmdb (ASN)`; the configured
    /// paths when none is loaded.
    pub(crate) fn describe(&self) -> String {
        let mut out = String::new();
        for db in self.slots.iter().filter_map(|s| s.db.as_ref()) {
            let name = db.path.file_name().unwrap_or(db.path.as_os_str());
            let kinds = match (db.kinds.city, db.kinds.asn) {
                (true, true) => "city, ASN",
                (true, false) => "city",
                _ => "ASN",
            };
            let sep = if out.is_empty() { "" } else { ", " };
            let _ = write!(out, "{sep}{} ({kinds})", name.to_string_lossy());
        }
        if out.is_empty() {
            let paths: Vec<String> = self
                .slots
                .iter()
                .map(|s| s.configured.display().to_string())
                .collect();
            out = paths.join(", ");
        }
        out
    }

    /// The database serving `role`: its own slot first, else the other slot
    /// when that file carries the fields too (a combined DB-IP file).
    fn provider(&self, role: Role) -> Option<&Db> {
        let own = usize::from(role == Role::Asn);
        [own, 1 - own]
            .into_iter()
            .filter_map(|i| self.slots[i].db.as_ref())
            .find(|d| role.wants(d.kinds))
    }

    /// Joins slot notes, leaving out a missing file whose data the other
    /// file provides anyway.
    fn rebuild_note(&mut self) {
        self.fault_note = OnceCell::new();
        let mut out = String::new();
        for slot in &self.slots {
            let Some(note) = &slot.note else { continue };
            if slot.db.is_none() && self.provider(slot.role).is_some() {
                continue;
            }
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(note);
        }
        self.note = (!out.is_empty()).then_some(out);
    }
}

impl Slot {
    fn empty(role: Role) -> Slot {
        Slot {
            role,
            configured: PathBuf::new(),
            db: None,
            rejected: None,
            note: None,
        }
    }
}

/// Addresses the fuzz target looks up: MaxMind's test networks (so its test
/// databases as seeds reach the record decoder), both families, IPv4-mapped.
const FUZZ_ADDRS: [IpAddr; 6] = [
    IpAddr::V4(Ipv4Addr::new(81, 2, 69, 142)),
    IpAddr::V4(Ipv4Addr::new(1, 128, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(89, 160, 20, 112)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x480, 0x10, 0, 0, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(0x2c0f, 0xff40, 0, 0, 0, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x0808, 0x0808)),
];

/// What the `geoip` fuzz target runs: the file at `path` opened as both
/// databases, then looked up at a few addresses. Must return (never panic,
/// never hang) whatever the file holds. Returns how many lookups found
/// something, so nothing is optimised away.
pub fn fuzz_open_and_lookup(path: &Path) -> usize {
    let config = GeoipConfig {
        enabled: true,
        city_db: path.to_path_buf(),
        asn_db: path.to_path_buf(),
    };
    let geo = GeoIp::open(&config);
    FUZZ_ADDRS
        .iter()
        .filter(|ip| geo.lookup(**ip) != GeoInfo::default())
        .count()
}

fn fill_city(info: &mut GeoInfo, rec: &Record<'_>) {
    info.country = rec.country().map(str::to_owned);
    info.city = rec.city().map(str::to_owned);
}

fn fill_asn(info: &mut GeoInfo, rec: &Record<'_>) {
    info.asn = rec.asn();
    info.org = rec.org().map(str::to_owned);
}

#[cfg(test)]
mod tests;
