//! `fngate init | deploy | invoke | list | delete | logs` (functions work fills this in).

use clap::Subcommand;

use super::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum FnCommand {}

pub async fn run(command: FnCommand, _global: &GlobalArgs) -> anyhow::Result<()> {
    match command {}
}
