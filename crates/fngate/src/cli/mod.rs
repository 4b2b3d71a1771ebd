//! Command-line interface: one module per command group.

pub mod client;
pub mod functions;
pub mod gateway;
pub mod idp;
pub mod oci;
pub mod output;
pub mod status;

use std::path::PathBuf;

use clap::Args;

use self::output::OutputFormat;

/// Options every client command shares.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Admin API of the running server.
    #[arg(long, global = true, env = "FNGATE_SERVER", default_value = client::DEFAULT_SERVER)]
    pub server: String,

    /// PEM file with the CA certificate(s) to trust for an `https://` --server (instead of the
    /// system's roots), e.g. the CA that signed `fngate up --admin-tls-cert`.
    #[arg(long, global = true, env = "FNGATE_SERVER_CA", value_name = "FILE")]
    pub server_ca: Option<PathBuf>,

    /// Admin token, sent as `Authorization: Bearer` (default: read from `<data-dir>/admin-token`,
    /// which `fngate up` writes readable by its own user only).
    #[arg(long, global = true, env = "FNGATE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Data directory (store, function environments, keys, tokens); kept private: 0700, files 0600.
    #[arg(long, global = true, env = "FNGATE_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,

    /// Output format for listings.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// `$XDG_DATA_HOME/fngate` (usually `~/.local/share/fngate`).
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(std::env::temp_dir).join("fngate")
}
