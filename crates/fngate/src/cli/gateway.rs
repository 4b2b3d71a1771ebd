//! `fngate gateway deploy | list | show | delete | validate` (gateway work fills this in).

use clap::Subcommand;

use super::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum GatewayCommand {}

pub async fn run(command: GatewayCommand, _global: &GlobalArgs) -> anyhow::Result<()> {
    match command {}
}
