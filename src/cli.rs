//! The `tessera` command line: `serve` (the default), `migrate`, `create-admin`.

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: self-hosted access-token management portal"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Apply migrations and run the web server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an administrator account (for scripts and first installs).
    CreateAdmin(CreateAdminArgs),
}

#[derive(Args)]
pub struct CreateAdminArgs {
    /// Sign-in name (letters, digits, '.', '_', '-').
    #[arg(long)]
    pub username: String,
    /// Email address.
    #[arg(long)]
    pub email: String,
    /// Name shown in the portal (defaults to the username).
    #[arg(long)]
    pub display_name: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long, required = true)]
    pub password_stdin: bool,
}
