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
    /// Fill the database with realistic demo users, departments and tokens.
    SeedDemo(SeedDemoArgs),
    /// Delete revoked and expired tokens older than the retention period, and
    /// expired sessions; print how many.
    Purge,
    /// Replace the key that seals kept client and API-token secrets (Show)
    /// with a new one: every kept secret is re-sealed, then the old key is
    /// dropped from the key file. Running instances follow by themselves.
    RotateKey,
}

#[derive(Args)]
pub struct SeedDemoArgs {
    /// How many users to create (each gets one or two memberships).
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// How many tokens to create, of every kind and status.
    #[arg(long, default_value_t = 10_000)]
    pub tokens: usize,
    /// Seed even though the database has users of its own. Demo users share
    /// one known password: never seed a database people use.
    #[arg(long)]
    pub force: bool,
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
