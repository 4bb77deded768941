//! The built `tessera` binary as a child process, for the tests that need a real
//! process: to kill it (crash), stop it (shutdown), run several on one
//! database (reliability), read everything it prints (secrets) or see it
//! start or refuse to (cli, logging).
//!
//! [`tessera_bin`] runs any command; [`create_admin`] the usual first step;
//! [`Server`] is a running `tessera serve` with its whole output. Its database is
//! a [`TestDb`](crate::common::TestDb) ([`crate::common::fresh_database`]).

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use reqwest::StatusCode;

use crate::common::{Visitor, bare_client};

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// JSON logs, cookies without Secure (the tests speak plain HTTP), two workers
/// and four pooled connections: a small server.
pub const SMALL_SERVER: &[&str] = &[
    "--log-format",
    "json",
    "--cookie-secure",
    "false",
    "--workers",
    "2",
    "--db-pool-size",
    "4",
];

/// The built binary, with no TESSERA_* settings (nor DATABASE_URL) of the
/// caller's environment, and cheap argon2 (an `env` of the caller overrides it).
pub fn tessera_bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.env("TESSERA_ARGON2_MEMORY_KIB", "64")
        .env("TESSERA_ARGON2_ITERATIONS", "1");
    cmd
}

/// [`tessera_bin`] on the database at `url`, with extra environment (e.g. a
/// costlier argon2), its standard output and error piped.
fn tessera_on(url: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = tessera_bin();
    cmd.env("TESSERA_DATABASE_URL", url)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `tessera create-admin` of `username` (`username@example.com`), with the
/// password typed on standard input and extra environment (e.g. a costlier
/// argon2); how it ended and all it printed.
pub fn run_create_admin(url: &str, username: &str, password: &str, env: &[(&str, &str)]) -> Output {
    let mut child = tessera_on(url, env)
        .args([
            "create-admin",
            "--username",
            username,
            "--email",
            &format!("{username}@example.com"),
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run create-admin");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// [`run_create_admin`], which must succeed.
pub fn create_admin(url: &str, username: &str, password: &str, env: &[(&str, &str)]) {
    let out = run_create_admin(url, username, password, env);
    assert!(
        out.status.success(),
        "create-admin {username}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `tessera serve` and every line it wrote on standard output and
/// standard error (without colour codes). Dropping it kills it; during a panic
/// it also prints that output.
pub struct Server {
    child: Child,
    /// The origin it announced, such as `http://127.0.0.1:40123`.
    pub address: String,
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

/// A `tessera serve` that may not listen yet: [`Starting::listening`] waits.
pub struct Starting {
    server: Server,
    origin: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `tessera serve --bind 127.0.0.1:0` on `url` with extra `args` and
    /// `env`, and returns once it listens.
    pub fn start(url: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::spawn(url, args, env).listening()
    }

    /// Starts the process without waiting for it (so that several can start at
    /// once).
    pub fn spawn(url: &str, args: &[&str], env: &[(&str, &str)]) -> Starting {
        let mut child = tessera_on(url, env)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("start tessera serve");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (origin_tx, origin) = mpsc::channel();
        let readers = vec![
            keep_lines(child.stdout.take().unwrap(), &lines, origin_tx.clone()),
            keep_lines(child.stderr.take().unwrap(), &lines, origin_tx),
        ];
        Starting {
            server: Server {
                child,
                address: String::new(),
                port: 0,
                lines,
                readers,
            },
            origin,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A browser-like visitor of this server using `client` (and its cookies).
    pub fn visitor(&self, client: &reqwest::Client) -> Visitor {
        Visitor {
            address: self.address.clone(),
            client: client.clone(),
        }
    }

    /// The status of `GET /api/v1/me` with a bearer token.
    pub async fn me(&self, token: &str) -> StatusCode {
        bare_client()
            .get(self.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /api/v1/me")
            .status()
    }

    /// SIGKILL, and reap the process.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.wait();
    }

    /// SIGTERM (through kill(1), no libc needed).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed");
    }

    /// The exit status, once the process ended (None if still running); then
    /// [`Server::log`] holds all it wrote.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().expect("poll the server");
        if status.is_some() {
            self.read_to_end();
        }
        status
    }

    /// Waits for the process to end; then [`Server::log`] holds all it wrote.
    pub fn wait(&mut self) -> ExitStatus {
        let status = self.child.wait().expect("reap the server");
        self.read_to_end();
        status
    }

    /// What the server wrote so far, both streams, one line each.
    pub fn log(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    /// Once the process ended: waits until its pipes are read to the end.
    fn read_to_end(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Starting {
    /// Waits until the server says where it listens.
    pub fn listening(mut self) -> Server {
        match self.origin.recv_timeout(START_TIMEOUT) {
            Ok(origin) => {
                self.server.port = origin
                    .rsplit_once(':')
                    .and_then(|(_, port)| port.parse().ok())
                    .expect("a port in the origin");
                self.server.address = origin;
                self.server
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = self.server.wait();
                panic!("tessera serve ended ({status}) before listening")
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("tessera serve did not listen within {START_TIMEOUT:?}")
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            self.read_to_end();
            eprintln!(
                "--- output of tessera serve {} (pid {}) ---\n{}",
                self.address,
                self.pid(),
                self.log()
            );
        }
    }
}

/// Reads `stream` to its end, so that the server never blocks on a full pipe or
/// writes into a closed one: keeps each line without its colour codes, and sends
/// the origin of the "Tessera is listening" line.
fn keep_lines(
    stream: impl Read + Send + 'static,
    lines: &Arc<Mutex<Vec<String>>>,
    origin: mpsc::Sender<String>,
) -> JoinHandle<()> {
    let lines = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let line = strip_ansi(&line);
            let listening = listening_origin(&line);
            lines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line);
            if let Some(listening) = listening {
                let _ = origin.send(listening);
            }
        }
    })
}

/// The origin in the "Tessera is listening" log line, JSON or text.
fn listening_origin(line: &str) -> Option<String> {
    if !line.contains("Tessera is listening") {
        return None;
    }
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(line) {
        json["origin"].as_str().map(str::to_owned)
    } else {
        let (_, rest) = line.split_once("origin=")?;
        let origin = rest.split_whitespace().next()?;
        Some(origin.trim_matches('"').to_owned())
    }
}

/// A log line without its colour codes (`ESC [ ... m`).
fn strip_ansi(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}
