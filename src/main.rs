//! The `tessera` binary: parse the command line, set up logging, dispatch.

use std::io::{BufRead as _, Write as _};

use anyhow::Context as _;
use clap::Parser as _;
use tessera::cli::{Cli, Command, CreateAdminArgs, SeedDemoArgs};
use tessera::config::Config;
use tessera::startup::Application;
use tessera::{accounts, auth, db, domain, telemetry};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(&cli.config.log, cli.config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config).await,
        Command::Migrate => migrate(&cli.config),
        Command::CreateAdmin(args) => create_admin(&cli.config, args),
        Command::SeedDemo(args) => seed_demo(&cli.config, &args),
        Command::Purge => purge(&cli.config),
        Command::RotateKey => rotate_key(&cli.config),
    }
}

/// Prints one line of a command's result for whoever ran it, as `println!`
/// does (a closed stdout still ends the command). `serve` writes its setup link
/// itself, as a server must not stop for that.
#[allow(
    clippy::print_stdout,
    reason = "the command's result is its output, not a log line"
)]
fn say(line: std::fmt::Arguments<'_>) {
    println!("{line}");
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    let origin = app.listening_origin().to_owned();
    let public_url = app.public_url().to_owned();
    if let Some(code) = app.setup_code() {
        // Printed, not logged: the code is a one-time secret for whoever started us.
        // (Written without println!, which would panic on a closed stdout.) Before
        // the line that says we listen, so whoever waits for that has the link too.
        let _ = writeln!(
            std::io::stdout(),
            "\nTessera has no administrator yet. Open this link to create one:\n\n    {public_url}/setup?code={code}\n"
        );
    }
    tracing::info!(%origin, %public_url, "Tessera is listening");
    app.run_until_stopped().await?;
    Ok(())
}

fn migrate(config: &Config) -> anyhow::Result<()> {
    let url = db::DatabaseUrl::parse(&config.database_url())?;
    db::connect_and_migrate(&url, 1)?;
    say(format_args!(
        "Database at {} is up to date.",
        url.redacted()
    ));
    Ok(())
}

fn create_admin(config: &Config, args: CreateAdminArgs) -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password).to_owned();

    let url = db::DatabaseUrl::parse(&config.database_url())?;
    let pool = db::connect_and_migrate(&url, 1)?;
    let hasher = auth::password::Hasher::new(config.argon2_memory_kib, config.argon2_iterations)?;
    let mut account = domain::account::NewAccount {
        display_name: args.display_name.unwrap_or_default(),
        username: args.username,
        email: args.email,
        password: domain::account::Password::new(password),
    };
    let created = match accounts::prepare(&hasher, &mut account)? {
        Ok(prepared) => accounts::insert(&mut *pool.get()?, &prepared, true)?,
        Err(errors) => Err(errors),
    };
    let mut conn = pool.get()?;
    match created {
        Ok(user) => {
            db::settings::set_setup_code(&mut conn, None)?;
            let actor = db::audit::Actor {
                username: Some("command line".to_owned()),
                ..Default::default()
            };
            let event = db::audit::Event::new(
                db::audit::AuditAction::CreateAdmin,
                db::audit::Outcome::Success,
            )
            .target(
                db::audit::TargetType::User,
                Some(user.id),
                Some(&user.username),
            );
            db::audit::record(&mut conn, &actor, &event)?;
            say(format_args!("Administrator {} created.", user.username));
            Ok(())
        }
        Err(errors) => {
            for (field, message) in errors.iter() {
                eprintln!("{}: {message}", field.replace('_', "-"));
            }
            anyhow::bail!("no administrator was created");
        }
    }
}

fn seed_demo(config: &Config, args: &SeedDemoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.users > 0, "--users must be at least 1");
    let url = db::DatabaseUrl::parse(&config.database_url())?;
    let pool = db::connect_and_migrate(&url, 1)?;
    let mut conn = pool.get()?;
    let own_users = db::users::count_not_like(&mut conn, tessera::seed::DEMO_USERNAMES)?;
    anyhow::ensure!(
        own_users == 0 || args.force,
        "the database at {} has {own_users} users who are not demo users: seed-demo adds \
         users who all sign in with the password {:?}, so it only seeds a database of \
         its own (--force seeds this one anyway)",
        url.redacted(),
        tessera::seed::DEMO_PASSWORD
    );
    let hasher = auth::password::Hasher::new(config.argon2_memory_kib, config.argon2_iterations)?;
    let started = std::time::Instant::now();
    let summary = tessera::seed::seed_demo(
        &mut conn,
        &hasher,
        &config.token_prefix,
        args.users,
        args.tokens,
        true,
    )?;
    say(format_args!(
        "Seeded {} users and {} tokens in {:.1} s (token rows {:.1} s, their indexes {:.1} s). \
         Demo users all sign in with the same password, {:?}: this database is for demos.",
        summary.users,
        summary.tokens,
        started.elapsed().as_secs_f64(),
        summary.token_insert_secs,
        summary.token_index_secs,
        tessera::seed::DEMO_PASSWORD
    ));
    Ok(())
}

/// `tessera rotate-key`: a new key in front of the key file, every kept secret
/// re-sealed with it (twice over: the second pass takes what instances sealed
/// with the old key while the first ran), then the old keys dropped. A copy
/// that no key opens any more is erased: Show then says to regenerate.
fn rotate_key(config: &Config) -> anyhow::Result<()> {
    use tessera::sealing::Rotation;
    let url = db::DatabaseUrl::parse(&config.database_url())?;
    let path = config
        .secret_key_file
        .clone()
        .or_else(|| url.default_key_file())
        .context("no secret key file: set TESSERA_SECRET_KEY_FILE (or --secret-key-file)")?;
    anyhow::ensure!(
        path.exists(),
        "the secret key file {} does not exist: nothing is sealed with it yet",
        path.display()
    );
    let pool = db::connect_and_migrate(&url, 1)?;
    let mut conn = pool.get()?;
    let rotation = Rotation::begin(&path)?;
    let (mut resealed, mut erased) = (0, 0);
    for _pass in 0..2 {
        (resealed, erased) = (0, 0);
        let rows = db::tokens::all_sealed(&mut conn)?;
        db::transaction(&mut conn, |conn| -> anyhow::Result<()> {
            for (id, sealed, sha256) in rows {
                match rotation.reseal(&sealed, &sha256) {
                    Ok(new) => {
                        db::tokens::set_sealed(conn, id, &new)?;
                        resealed += 1;
                    }
                    Err(err) => {
                        tracing::warn!(token_id = id, error = %err, "a kept secret did not open: erased");
                        db::tokens::erase_sealed_of(conn, id)?;
                        erased += 1;
                    }
                }
            }
            Ok(())
        })?;
    }
    let key_id = rotation.new_key_id();
    rotation.finish()?;
    let summary = format!(
        "new key {key_id}: {resealed} kept secrets re-sealed, {erased} that no key opened erased"
    );
    let actor = db::audit::Actor {
        username: Some("command line".to_owned()),
        ..Default::default()
    };
    let event = db::audit::Event::new(
        db::audit::AuditAction::SecretKeyRotated,
        db::audit::Outcome::Success,
    )
    .detail(&summary);
    db::audit::record(&mut conn, &actor, &event)?;
    say(format_args!(
        "Rotated the secret key in {}: {summary}.",
        path.display()
    ));
    Ok(())
}

fn purge(config: &Config) -> anyhow::Result<()> {
    let url = db::DatabaseUrl::parse(&config.database_url())?;
    let pool = db::connect_and_migrate(&url, 1)?;
    let mut conn = pool.get()?;
    // Deleting tokens and audit events is an administrative act like any
    // other: it is audited.
    let actor = db::audit::Actor {
        username: Some("command line".to_owned()),
        ..Default::default()
    };
    let (_, summary) = tessera::jobs::housekeeping::purge(&mut conn, db::now(), &actor)?;
    say(format_args!("Purged {summary}."));
    Ok(())
}
