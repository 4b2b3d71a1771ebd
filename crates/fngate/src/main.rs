//! fngate: Fn-compatible functions, an OCI-compatible API gateway and an Entra-compatible dev
//! identity provider in one binary.

mod cli;
mod control;
mod demo;
mod feed;
mod listener_limits;
mod up;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use cli::GlobalArgs;

/// mimalloc: the gateway's request path allocates many small, short-lived objects (hyper, tokio,
/// headers); it is markedly cheaper there than glibc malloc (see docs/notes/gateway.md, Benchmark).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "fngate", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once per process: `up`'s many flags make its variant large, and boxing it buys nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the whole stack: functions, gateway, identity provider and admin API.
    ///
    /// stdout gets the endpoint table, then one JSON access-log line per gateway request
    /// (`"type":"gateway.access"`; lines are gathered and written out every 100 ms). Server logs
    /// go to stderr (FNGATE_LOG sets the level). SIGTERM or Ctrl-C drains in-flight requests.
    Up(Box<up::UpArgs>),
    #[command(flatten)]
    Functions(cli::functions::FnCommand),
    /// Manage API deployments (OCI API Gateway specifications).
    #[command(subcommand)]
    Gateway(cli::gateway::GatewayCommand),
    /// Show what the running server serves: listeners, deployments and routes, functions with
    /// live instance counts, what the function sandbox enforces, identity-provider registrations.
    Status,
    /// The Entra ID-compatible dev identity provider.
    #[command(subcommand)]
    Idp(cli::idp::IdpCommand),
    /// The OCI REST APIs: API keys for the `oci` CLI and the OCI SDKs, and their config.
    #[command(subcommand)]
    Oci(cli::oci::OciCommand),
}

fn main() -> std::process::ExitCode {
    // The function sandbox starts this binary as its launcher (fngate-sandbox) before each function.
    if let Some(code) = fngate_functions::sandbox::main_if_launcher() {
        return code;
    }
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up(mut args) => {
                let mut global = cli.global.clone();
                up::apply_config_file(&mut args, &mut global, &matches)?;
                up::run(*args, &global).await
            }
            Command::Functions(command) => cli::functions::run(command, &cli.global).await,
            Command::Status => cli::status::run(&cli.global).await,
            Command::Gateway(command) => cli::gateway::run(command, &cli.global).await,
            Command::Idp(command) => cli::idp::run(command, &cli.global).await,
            Command::Oci(command) => cli::oci::run(command, &cli.global).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
