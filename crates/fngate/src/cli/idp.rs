//! `fngate idp …` (identity-provider work fills this in).

use clap::Subcommand;

use super::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum IdpCommand {}

pub async fn run(command: IdpCommand, _global: &GlobalArgs) -> anyhow::Result<()> {
    match command {}
}
