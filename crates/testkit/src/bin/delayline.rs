//! `delayline --to 127.0.0.1:8080 --rtt-ms 100 --window-kib 4096 [--listen 127.0.0.1:0]`: a long
//! link on loopback for the benchmarks (see `testkit::delayline`). Prints `listening on ADDR`, then
//! carries connections until it is stopped.

use std::net::SocketAddr;
use std::time::Duration;

use testkit::delayline::{DelayLine, Link};

fn usage() -> ! {
    eprintln!("usage: delayline --to HOST:PORT [--rtt-ms 100] [--window-kib 4096] [--listen 127.0.0.1:0]");
    std::process::exit(2)
}

fn main() {
    let mut to: Option<SocketAddr> = None;
    let mut listen: Option<SocketAddr> = None;
    let mut rtt_ms: u64 = 100;
    let mut window_kib: usize = 4096;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        let bad = |what: &str| -> ! {
            eprintln!("delayline: {flag} {value:?} is not {what}");
            std::process::exit(2)
        };
        match flag.as_str() {
            "--to" => to = Some(value.parse().unwrap_or_else(|_| bad("an address such as 127.0.0.1:8080"))),
            "--listen" => listen = Some(value.parse().unwrap_or_else(|_| bad("an address such as 127.0.0.1:0"))),
            "--rtt-ms" => rtt_ms = value.parse().unwrap_or_else(|_| bad("a whole number of milliseconds")),
            "--window-kib" => {
                window_kib = value.parse().ok().filter(|w| *w > 0).unwrap_or_else(|| bad("a positive number of KiB"))
            }
            _ => usage(),
        }
    }
    let to = to.unwrap_or_else(|| usage());
    let link = Link { rtt: Duration::from_millis(rtt_ms), window: window_kib * 1024, cut_after: None };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let line = DelayLine::start(to, link, listen).await.unwrap_or_else(|e| {
            eprintln!("delayline: cannot listen: {e}");
            std::process::exit(1)
        });
        println!(
            "listening on {} (to {to}, {rtt_ms} ms round trip, {window_kib} KiB in flight per connection)",
            line.addr
        );
        let _ = tokio::signal::ctrl_c().await;
    });
}
