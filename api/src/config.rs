//! `cobro serve`'s configuration, in layers: the built-in defaults, then a TOML file (`--config FILE`, every key
//! optional; `config/example.toml` documents them all), then `COBRO_*` environment variables, then flags.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

/// The server's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port and prints it).
    pub listen: SocketAddr,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest ledger push (`POST /api/v1/ledger/{table}`), in bytes.
    pub max_push_bytes: usize,
    /// Seconds a request may take before the server answers 503.
    pub request_timeout_seconds: u64,
    /// Rows `POST /api/v1/sql` returns at most.
    pub sql_max_rows: usize,
    /// Seconds a SQL query may run.
    pub sql_timeout_seconds: u64,
    /// Megabytes of memory one SQL query may use (sorts and aggregates spill to disk at it; beyond it the query
    /// is refused with 422).
    pub sql_memory_mb: usize,
    /// The address customers reach the portal at (portal links are made under it).
    pub public_url: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1024 * 1024,
            max_push_bytes: 64 * 1024 * 1024,
            request_timeout_seconds: 30,
            sql_max_rows: 100_000,
            sql_timeout_seconds: 20,
            sql_memory_mb: 512,
            public_url: "http://127.0.0.1:8080".to_owned(),
        }
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("server configuration {path}: {message}")]
pub struct ConfigError {
    /// File or variable.
    pub path: String,
    /// What is wrong (TOML errors carry line and column).
    pub message: String,
}

impl ServerConfig {
    /// Defaults, then `file` (when given), then the `COBRO_*` variables of `env`.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError { path: p.display().to_string(), message: e.to_string() })?;
                toml::from_str::<ServerConfig>(&text)
                    .map_err(|e| ConfigError { path: p.display().to_string(), message: e.to_string() })?
            }
            None => Self::default(),
        };
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let bad = |name: &str, v: &str, what: &str| ConfigError {
            path: format!("${name}"),
            message: format!("`{v}` is not {what}"),
        };
        if let Some(v) = var("COBRO_LISTEN") {
            c.listen = v.parse().map_err(|_| bad("COBRO_LISTEN", &v, "an address like 127.0.0.1:8080"))?;
        }
        if let Some(v) = var("COBRO_MAX_BODY_BYTES") {
            c.max_body_bytes = v.parse().map_err(|_| bad("COBRO_MAX_BODY_BYTES", &v, "a number of bytes"))?;
        }
        if let Some(v) = var("COBRO_SQL_MAX_ROWS") {
            c.sql_max_rows = v.parse().map_err(|_| bad("COBRO_SQL_MAX_ROWS", &v, "a number of rows"))?;
        }
        if let Some(v) = var("COBRO_SQL_TIMEOUT_SECONDS") {
            c.sql_timeout_seconds =
                v.parse().map_err(|_| bad("COBRO_SQL_TIMEOUT_SECONDS", &v, "a number of seconds"))?;
        }
        if let Some(v) = var("COBRO_SQL_MEMORY_MB") {
            c.sql_memory_mb = v.parse().map_err(|_| bad("COBRO_SQL_MEMORY_MB", &v, "a number of megabytes"))?;
        }
        if let Some(v) = var("COBRO_PUBLIC_URL") {
            c.public_url = v;
        }
        if c.sql_max_rows == 0
            || c.max_body_bytes == 0
            || c.max_push_bytes == 0
            || c.sql_memory_mb == 0
            || c.request_timeout_seconds == 0
            || c.sql_timeout_seconds == 0
        {
            return Err(ConfigError {
                path: file.map_or("defaults".into(), |p| p.display().to_string()),
                message: "limits must be above 0".into(),
            });
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_sets_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/example.toml");
        let c = ServerConfig::load(Some(&path), |_| None).unwrap();
        let d = ServerConfig::default();
        // The example spells out the defaults, so it parses to them: a key renamed in the code breaks this.
        assert_eq!(c, d);
        let text = std::fs::read_to_string(&path).unwrap();
        for key in
            ["listen", "max_body_bytes", "request_timeout_seconds", "sql_max_rows", "sql_timeout_seconds", "public_url"]
        {
            assert!(text.contains(&format!("\n{key} = ")), "config/example.toml does not document `{key}`");
        }
    }

    #[test]
    fn environment_overrides_the_file_and_bad_values_name_the_variable() {
        let c = ServerConfig::load(None, |k| (k == "COBRO_SQL_MAX_ROWS").then(|| "10".into())).unwrap();
        assert_eq!(c.sql_max_rows, 10);
        let e = ServerConfig::load(None, |k| (k == "COBRO_LISTEN").then(|| "nowhere".into())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "server configuration $COBRO_LISTEN: `nowhere` is not an address like 127.0.0.1:8080"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:9\"\nsql_rows = 5\n").unwrap();
        let e = ServerConfig::load(Some(&f), |_| None).unwrap_err().to_string();
        assert!(e.contains("unknown field `sql_rows`") && e.contains("line 2"), "{e}");
    }
}
