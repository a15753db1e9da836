//! The effective configuration: defaults, then a TOML file, then `CONTENTHUB_*` environment
//! variables, then command-line flags — each later source overriding the earlier ones. Unknown
//! `CONTENTHUB_*` variables are reported, and secrets never appear in logs or `config` output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// Every setting. Field names are the TOML keys; `CONTENTHUB_` + the upper-cased name is the
/// environment variable; `--` + the name with dashes is the flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub bind: String,
    /// Folder for the SQLite database and local blobs.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`; default: SQLite in the data folder.
    pub database_url: Option<String>,
    /// `file://PATH`, `s3://BUCKET` or `s3://BUCKET/PREFIX`; default: `blobs/` in the data folder.
    pub storage_url: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    /// Path-style S3 addressing (MinIO, Garage, most self-hosted stores).
    pub s3_path_style: bool,
    pub session_hours: u32,
    /// The largest file one upload may carry, in bytes (announced as tus `Tus-Max-Size`).
    pub max_upload_bytes: i64,
    /// How long an unfinished upload is kept after its last chunk before its storage is freed
    /// and its asset marked Failed Delivery.
    pub upload_lifetime_seconds: u32,
    /// Mark session cookies Secure; set when the hub is served over HTTPS.
    pub secure_cookies: bool,
    /// Log filter, e.g. `info` or `hub=debug,info`.
    pub log: String,
    /// The address space each validation child may use, in MiB (every delivered file is checked
    /// in a child process of its own, so that no file can take the server down).
    pub validator_memory_mib: u32,
    /// Reverse proxies in front of the hub, comma-separated IP addresses: their
    /// `X-Forwarded-For` names the client (for the per-address sign-in limit). Empty: none.
    pub trusted_proxies: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("contenthub-data"),
            database_url: None,
            storage_url: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_path_style: false,
            session_hours: 12,
            max_upload_bytes: 1 << 40,
            upload_lifetime_seconds: 24 * 3600,
            secure_cookies: false,
            log: "info".into(),
            validator_memory_mib: 2048,
            trusted_proxies: String::new(),
        }
    }
}

/// Keys whose values are secret.
const SECRET_KEYS: &[&str] = &["s3_secret_access_key"];

impl Config {
    pub fn keys() -> Vec<String> {
        match toml::Value::try_from(Config::default()) {
            Ok(toml::Value::Table(t)) => t.keys().cloned().chain(optional_keys()).collect(),
            _ => Vec::new(),
        }
    }

    /// Layers the sources: `file` (if any), then `env`, then `flags` (already-parsed `key=value`s).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &BTreeMap<String, String>,
        warn: &mut dyn FnMut(String),
    ) -> anyhow::Result<Config> {
        let mut table = match toml::Value::try_from(Config::default())? {
            toml::Value::Table(t) => t,
            _ => unreachable!("a struct serialises to a table"),
        };
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
            let from_file: toml::Table =
                toml::from_str(&text).with_context(|| format!("config file {} is not valid TOML", path.display()))?;
            for (key, value) in from_file {
                table.insert(key, value);
            }
        }
        let known = Config::keys();
        let mut overrides = BTreeMap::new();
        for (name, value) in env {
            let Some(key) = name.strip_prefix("CONTENTHUB_") else { continue };
            let key = key.to_lowercase();
            if matches!(key.as_str(), "config" | "home") || key.starts_with("test_") {
                // The file itself, the CLI's folder (CONTENTHUB_HOME), and the test suite's own.
                continue;
            }
            if known.contains(&key) {
                overrides.insert(key, value);
            } else {
                warn(format!(
                    "ignoring unknown environment variable {name}; known: CONTENTHUB_{{{}}}",
                    known.join(",").to_uppercase()
                ));
            }
        }
        overrides.extend(flags.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (key, value) in overrides {
            let typed = match table.get(&key) {
                Some(toml::Value::Boolean(_)) => toml::Value::Boolean(parse_bool(&key, &value)?),
                Some(toml::Value::Integer(_)) => toml::Value::Integer(
                    value.parse().with_context(|| format!("{key} must be a whole number, not {value:?}"))?,
                ),
                _ => toml::Value::String(value),
            };
            table.insert(key, typed);
        }
        let config: Config = toml::Value::Table(table).try_into().context("invalid configuration")?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.bind.parse::<std::net::SocketAddr>().is_err() {
            bail!("bind {:?} is not ADDRESS:PORT (for example 127.0.0.1:8080)", self.bind);
        }
        if self.session_hours == 0 || self.session_hours > 24 * 30 {
            bail!("session_hours must be between 1 and 720");
        }
        if !(1 << 20..=5 << 40).contains(&self.max_upload_bytes) {
            bail!("max_upload_bytes must be between 1 MiB (1048576) and 5 TiB (5497558138880)");
        }
        if self.upload_lifetime_seconds == 0 || self.upload_lifetime_seconds > 30 * 24 * 3600 {
            bail!("upload_lifetime_seconds must be between 1 and 2592000 (30 days)");
        }
        self.trusted_proxies()?;
        if self.validator_memory_mib < 256 {
            bail!("validator_memory_mib must be at least 256 (the validator's own code and buffers)");
        }
        Ok(())
    }

    /// The trusted proxies' addresses.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<std::net::IpAddr>> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.parse().with_context(|| {
                    format!("trusted_proxies: {a:?} is not an IP address (give addresses, comma-separated)")
                })
            })
            .collect()
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("contenthub.db").display()))
    }

    /// The configuration as TOML with secrets replaced by `***`.
    pub fn redacted(&self) -> String {
        let mut value = toml::Value::try_from(self).expect("config serialises");
        if let toml::Value::Table(table) = &mut value {
            for key in SECRET_KEYS {
                if table.contains_key(*key) {
                    table.insert((*key).into(), toml::Value::String("***".into()));
                }
            }
            if let Some(toml::Value::String(url)) = table.get("database_url").cloned() {
                table.insert("database_url".into(), toml::Value::String(hub::db::redact_url(&url)));
            }
        }
        toml::to_string(&value).expect("TOML renders")
    }
}

/// Optional settings that are absent from a default-serialised table.
fn optional_keys() -> impl Iterator<Item = String> {
    ["database_url", "storage_url", "s3_endpoint", "s3_region", "s3_access_key_id", "s3_secret_access_key"]
        .into_iter()
        .map(String::from)
}

fn parse_bool(key: &str, value: &str) -> anyhow::Result<bool> {
    match value.to_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => bail!("{key} must be true or false, not {value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: Option<&str>, env: &[(&str, &str)], flags: &[(&str, &str)]) -> (anyhow::Result<Config>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let flags = flags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut warnings = Vec::new();
        let result = Config::load(file.map(|_| path.as_path()), env, &flags, &mut |w| warnings.push(w));
        (result, warnings)
    }

    #[test]
    fn later_sources_win() {
        let (c, _) = load(None, &[], &[]);
        assert_eq!(c.unwrap(), Config::default());
        let file = "bind = \"127.0.0.1:9000\"\nsession_hours = 4\ndatabase_url = \"postgres://a:b@h/db\"\n";
        let (c, _) = load(Some(file), &[], &[]);
        let c = c.unwrap();
        assert_eq!((c.bind.as_str(), c.session_hours), ("127.0.0.1:9000", 4));
        let (c, _) =
            load(Some(file), &[("CONTENTHUB_BIND", "127.0.0.1:9001"), ("CONTENTHUB_SECURE_COOKIES", "yes")], &[]);
        let c = c.unwrap();
        assert_eq!((c.bind.as_str(), c.secure_cookies, c.session_hours), ("127.0.0.1:9001", true, 4));
        let (c, _) = load(Some(file), &[("CONTENTHUB_BIND", "127.0.0.1:9001")], &[("bind", "127.0.0.1:9002")]);
        assert_eq!(c.unwrap().bind, "127.0.0.1:9002");
    }

    #[test]
    fn unknown_variables_warn_and_bad_values_fail_clearly() {
        let (c, warnings) = load(None, &[("CONTENTHUB_BINDD", "x"), ("PATH", "/bin")], &[]);
        assert!(c.is_ok());
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("CONTENTHUB_BINDD") && warnings[0].contains("CONTENTHUB_{"), "{warnings:?}");
        let (c, _) = load(None, &[("CONTENTHUB_SESSION_HOURS", "many")], &[]);
        assert!(c.unwrap_err().to_string().contains("session_hours must be a whole number"));
        let (c, _) = load(Some("bindd = 1\n"), &[], &[]);
        assert!(format!("{:#}", c.unwrap_err()).contains("bindd"));
        let (c, _) = load(None, &[], &[("bind", "localhost")]);
        assert!(c.unwrap_err().to_string().contains("ADDRESS:PORT"));
        let (c, _) = load(None, &[("CONTENTHUB_UPLOAD_LIFETIME_SECONDS", "0")], &[]);
        assert!(c.unwrap_err().to_string().contains("upload_lifetime_seconds must be between 1 and"));
        let (c, _) = load(None, &[("CONTENTHUB_UPLOAD_LIFETIME_SECONDS", "90")], &[]);
        assert_eq!(c.unwrap().upload_lifetime_seconds, 90);
    }

    #[test]
    fn secrets_are_redacted() {
        let (c, _) = load(
            None,
            &[
                ("CONTENTHUB_S3_SECRET_ACCESS_KEY", "topsecret"),
                ("CONTENTHUB_DATABASE_URL", "postgres://hub:pw@db/hub"),
            ],
            &[],
        );
        let text = c.unwrap().redacted();
        assert!(!text.contains("topsecret") && !text.contains(":pw@"), "{text}");
        assert!(text.contains("s3_secret_access_key = \"***\""), "{text}");
    }
}
