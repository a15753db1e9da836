//! Helpers shared by the integration tests: start the real binary, speak minimal HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A minimal HTTP/1.1 exchange; returns (status, body).
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let (status, _, body) = http_with_headers(addr, method, path, headers, body);
    (status, body)
}

/// [`http`], with the response's header lines too.
pub fn http_with_headers(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        request += &format!("{k}: {v}\r\n");
    }
    request += "\r\n";
    request += body;
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_owned(), body.to_owned())
}

pub struct Server {
    pub child: Child,
    pub addr: String,
    /// What `serve` printed up to its URL.
    pub lines: Vec<String>,
    /// What it printed after (its log, drained so that it never blocks on a full pipe).
    pub log: Arc<Mutex<Vec<String>>>,
}

/// A test that fails leaves no server behind (it would hold the test runner's pipes open), and
/// shows what the server logged after its start.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            eprintln!("--- serve at {} logged {} lines after its start:", self.addr, log.len());
            for line in log.iter() {
                eprint!("{line}");
            }
        }
    }
}

/// Starts `contenthub serve` on a free port with the data folder `dir`, `extra` arguments (say
/// `--demo`) and environment; returns once it printed its URL.
// The child moves into the returned Server, and `stop` waits for it; clippy cannot follow the move.
#[allow(clippy::zombie_processes)]
pub fn start<S: AsRef<std::ffi::OsStr>>(dir: &std::path::Path, extra: &[S], envs: &[(String, String)]) -> Server {
    start_on(dir, "127.0.0.1:0", extra, envs)
}

/// A free port on 127.0.0.1, for a server that must come back at the same address.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[allow(clippy::zombie_processes)]
pub fn start_on<S: AsRef<std::ffi::OsStr>>(
    dir: &std::path::Path,
    bind: &str,
    extra: &[S],
    envs: &[(String, String)],
) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_contenthub"))
        .args(["serve", "--bind", bind, "--data-dir"])
        .arg(dir)
        .args(extra)
        .env("CONTENTHUB_LOG", "warn")
        .envs(envs.iter().cloned())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut line = String::new();
        if Instant::now() > deadline || reader.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve printed no URL: {lines:?}");
        }
        if let Some(rest) = line.split("open http://").nth(1) {
            let addr = rest.split('/').next().unwrap().to_owned();
            lines.push(line);
            let log = Arc::new(Mutex::new(Vec::new()));
            let drained = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in reader.lines().map_while(Result::ok) {
                    drained.lock().unwrap_or_else(|e| e.into_inner()).push(line + "\n");
                }
            });
            return Server { child, addr, lines, log };
        }
        lines.push(line);
    }
}

pub fn stop(mut server: Server) {
    Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status:?}");
}

/// The admin password a first start printed.
pub fn admin_password(server: &Server) -> String {
    server
        .lines
        .iter()
        .find_map(|l| l.split("with password ").nth(1))
        .map(|p| p.trim().to_owned())
        .expect("the admin password is printed on first start")
}

/// `serve` arguments for `stack` with the demo project: the database and store, and `extra`.
pub fn demo_args(stack: &testkit::Stack, extra: &[&str]) -> (Vec<String>, Vec<(String, String)>) {
    let (mut args, envs) = stack.binary_args();
    args.push("--demo".to_owned());
    args.extend(extra.iter().map(|a| a.to_string()));
    (args, envs)
}

/// Signs `user` in through the API: the status, and the session cookie (`name=value`) if one was set.
pub fn sign_in(addr: &str, user: &str, password: &str) -> (u16, Option<String>) {
    let login = serde_json::json!({"username": user, "password": password}).to_string();
    let (status, head, _) =
        http_with_headers(addr, "POST", "/api/v1/session", &[("Content-Type", "application/json")], &login);
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned);
    (status, cookie)
}
