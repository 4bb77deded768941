//! What the server logs: one JSON line per request with no query string nor
//! secret, and the warnings start-up gives about a configuration that cannot
//! work as meant.

use crate::process;

use std::process::Stdio;

use process::{Server, tessera_bin};

#[test]
fn json_logs_carry_a_line_per_request_and_no_secrets() {
    use std::io::{BufRead as _, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut child = tessera_bin()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log",
            "info",
        ])
        .env("TESSERA_DATABASE_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let origin = loop {
        let line = lines.next().expect("the server logs its address").unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if let Some(origin) = json["origin"].as_str() {
            break origin.to_owned();
        }
    };
    let body = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{origin}/login?next=/secret-path"),
        ])
        .output();
    let status = if let Ok(out) = body {
        String::from_utf8_lossy(&out.stdout).to_string()
    } else {
        // No curl: speak HTTP by hand.
        use std::io::{Read as _, Write as _};
        let mut s = std::net::TcpStream::connect(origin.trim_start_matches("http://")).unwrap();
        s.write_all(
            b"GET /login?next=/secret-path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out[9..12].to_owned()
    };
    assert_eq!(status, "200");
    let request_line = loop {
        let line = lines.next().expect("a request line").unwrap();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        if json["message"] == "request finished" {
            break json;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(request_line["status"], 200);
    assert!(request_line["latency_ms"].is_number());
    let text = request_line.to_string();
    assert!(text.contains("\"/login\""), "{text}");
    assert!(
        !text.contains("secret-path"),
        "no query strings in logs: {text}"
    );
}

/// A Secure cookie over a public URL that is not https would be kept by the
/// browser and never sent back: start-up says so. The setup link printed at
/// start-up begins with the public URL.
#[test]
fn start_up_warns_of_a_secure_cookie_without_https_and_links_to_the_public_url() {
    let warning = "the session cookie is Secure";
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut plain = Server::start(&url, &["--cookie-secure", "true"], &[]);
    plain.terminate();
    plain.wait();
    let log = plain.log();
    assert!(log.contains(warning), "{log}");
    assert!(log.contains("no public URL configured"), "{log}");

    let public = "https://tessera.example.org";
    let mut behind_tls = Server::start(
        &url,
        &[
            "--cookie-secure",
            "true",
            "--public-url",
            &format!("{public}/"),
        ],
        &[],
    );
    behind_tls.terminate();
    behind_tls.wait();
    let log = behind_tls.log();
    assert!(!log.contains(warning), "{log}");
    assert!(log.contains(&format!("{public}/setup?code=")), "{log}");
    assert!(!log.contains("no public URL configured"), "{log}");
}
