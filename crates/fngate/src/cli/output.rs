//! Tables for people, JSON for scripts (`--output json`).

use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets::NOTHING};
use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
}

/// Prints `rows` as a table (with `headers`) or, for `--output json`, prints `json` pretty.
pub fn print_list<T: Serialize>(format: OutputFormat, json: &T, headers: &[&str], rows: Vec<Vec<String>>) {
    match format {
        OutputFormat::Json => print_json(json),
        OutputFormat::Table => {
            if rows.is_empty() {
                println!("(none)");
                return;
            }
            let mut table = Table::new();
            table
                .load_preset(NOTHING)
                .set_content_arrangement(ContentArrangement::Disabled);
            table.set_header(headers.iter().map(|h| h.to_uppercase()));
            for row in rows {
                table.add_row(row);
            }
            println!("{table}");
        }
    }
}

pub fn print_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(err) => eprintln!("error: cannot render JSON: {err}"),
    }
}
