//! `--demo`: the engine runs over files the demo's traffic generator
//! (`crate::demo`) writes on every tick, in place of the configured sources.

use crate::config::{AuthSource, Config};
use crate::demo::Demo;
use crate::parse::UnixTime;

/// The demo's files and their generator.
pub(crate) struct DemoRun {
    files: Demo,
}

impl DemoRun {
    /// With `--demo`, create the files and return the config that reads
    /// them; `None` otherwise.
    pub(crate) fn start(
        config: &Config,
        now: UnixTime,
    ) -> Result<Option<(DemoRun, Config)>, String> {
        if !config.demo {
            return Ok(None);
        }
        let files = Demo::create(now).map_err(|e| format!("--demo: {e}"))?;
        let config = demo_sources(config, &files);
        Ok(Some((DemoRun { files }, config)))
    }

    /// Write this tick's traffic. A write failure (disk full) just stops
    /// the demo's traffic.
    pub(crate) fn on_tick(&mut self, now: UnixTime) {
        let _ = self.files.on_tick(now);
    }
}

/// The config with the demo's files in place of the real sources.
fn demo_sources(config: &Config, demo: &Demo) -> Config {
    let mut config = config.clone();
    config.log_paths = vec![demo.access_log().display().to_string()];
    config.log_format = "auto".into();
    config.auth.source = AuthSource::File(demo.auth_log());
    config.proc_root = Some(demo.proc_root());
    config.show_private_ips = true; // the demo uses documentation ranges only
    config.from_start = true;
    config
}
