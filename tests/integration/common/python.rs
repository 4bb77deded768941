//! Python neighbours of the notification tests: a real SMTP server (aiosmtpd)
//! and a webhook receiver that checks signatures with the Standard Webhooks
//! reference library (`standardwebhooks`). Both live in a virtualenv at
//! `tests/py-deps` (git ignores it), made as `.ci/run` does:
//!
//! ```sh
//! python3 -m venv tests/py-deps
//! tests/py-deps/bin/pip install aiosmtpd standardwebhooks
//! ```
//!
//! Without it each test that needs it prints `SKIPPED …` and passes, unless
//! `TESSERA_BROWSER_TESTS=1` (set by `.ci/run`) makes that a failure, as for
//! the browser and single sign-on tests.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The virtualenv's interpreter (or `TESSERA_TEST_PYTHON`).
pub fn interpreter() -> PathBuf {
    std::env::var_os("TESSERA_TEST_PYTHON")
        .filter(|v| !v.is_empty())
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py-deps/bin/python3"),
            PathBuf::from,
        )
}

fn required() -> bool {
    std::env::var("TESSERA_BROWSER_TESTS").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// The interpreter, if it has `modules`; otherwise says loudly that `test` is
/// skipped (or fails when `TESSERA_BROWSER_TESTS=1`).
pub fn python_or_skip(test: &str, modules: &[&str]) -> Option<PathBuf> {
    let python = interpreter();
    let imports = modules.join(", ");
    let ok = Command::new(&python)
        .args(["-c", &format!("import {imports}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    let why = format!(
        "{} cannot import {imports}: python3 -m venv tests/py-deps && \
         tests/py-deps/bin/pip install aiosmtpd standardwebhooks",
        python.display()
    );
    assert!(!required(), "{test}: {why}");
    eprintln!("SKIPPED {test}: {why}");
    None
}
