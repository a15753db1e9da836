//! A long link on loopback: a TCP proxy that adds a round trip and limits each connection's bytes
//! in flight, as a transfer across an ocean meets them. One stream over such a link moves at most
//! its window per round trip (4 MiB at 100 ms: 40 MiB/s), which is why parallel streams matter.
//! Kernel traffic shaping (netem) is not available on the machines this runs on, so the link is
//! emulated in userspace: every chunk read from one side is written to the other half a round
//! trip later, and counts against the connection's window until a whole round trip after it was
//! read (its acknowledgement). The line can also drop every open connection once a number of
//! bytes has gone upstream, as a link that fails mid-transfer.
//!
//! Used by the resume test in `contenthub/tests/cli_upload.rs` and, as the `delayline` binary, by
//! the benchmarks.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::{Instant, sleep_until};

/// What the link does to the bytes it carries.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// The round trip it adds: a byte reaches the other side half of it later.
    pub rtt: Duration,
    /// The bytes one connection may have in flight in each direction (read less than a round trip
    /// ago): the emulated TCP window.
    pub window: usize,
    /// Drop every open connection once this many bytes in all have gone upstream (client to
    /// server); once.
    pub cut_after: Option<u64>,
}

/// The largest read, and so the largest chunk in flight (smaller when the window is).
const CHUNK: usize = 64 * 1024;

/// A running delay line; stops when dropped.
#[derive(Debug)]
pub struct DelayLine {
    /// Where clients connect.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    link: Link,
    upstream: AtomicU64,
    cuts: AtomicU64,
    /// Bumped to drop every connection open at that moment.
    cut: watch::Sender<u64>,
}

impl DelayLine {
    /// Listens on a free loopback port (or `listen`) and carries each connection to `target`.
    pub async fn start(target: SocketAddr, link: Link, listen: Option<SocketAddr>) -> io::Result<DelayLine> {
        assert!(link.window > 0, "a link needs a window of at least one byte");
        let listener = TcpListener::bind(listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))).await?;
        let addr = listener.local_addr()?;
        let shared =
            Arc::new(Shared { link, upstream: AtomicU64::new(0), cuts: AtomicU64::new(0), cut: watch::channel(0).0 });
        let accepting = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = accepting.clone();
                tokio::spawn(async move {
                    // A connection the target refuses is dropped: the client sees what it would.
                    let _ = carry(client, target, shared).await;
                });
            }
        });
        Ok(DelayLine { addr, shared, accept })
    }

    /// Bytes carried upstream (client to server) so far, over every connection.
    pub fn upstream_bytes(&self) -> u64 {
        self.shared.upstream.load(Ordering::Relaxed)
    }

    /// How many times the line dropped its connections.
    pub fn cuts(&self) -> u64 {
        self.shared.cuts.load(Ordering::Relaxed)
    }
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.cut.send_modify(|generation| *generation += 1);
    }
}

async fn carry(client: TcpStream, target: SocketAddr, shared: Arc<Shared>) -> io::Result<()> {
    let mut cut = shared.cut.subscribe();
    let server = TcpStream::connect(target).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (from_client, to_client) = client.into_split();
    let (from_server, to_server) = server.into_split();
    let both = async {
        tokio::try_join!(pump(from_client, to_server, &shared, true), pump(from_server, to_client, &shared, false))
    };
    tokio::select! {
        result = both => result.map(|_| ()),
        _ = cut.changed() => Ok(()), // dropping the halves closes both connections
    }
}

/// One direction of one connection: reads while the window has room, writes each chunk half a
/// round trip after it was read, and gives its room back a whole round trip after.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, shared: &Shared, upstream: bool) -> io::Result<()> {
    let link = shared.link;
    let window = Arc::new(Semaphore::new(link.window));
    let (queue, mut queued) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let read = async move {
        let mut buf = vec![0u8; CHUNK.min(link.window)];
        loop {
            let room = buf.len();
            window.acquire_many(room as u32).await.map_err(io::Error::other)?.forget();
            let n = from.read(&mut buf).await?;
            window.add_permits(room - n);
            if n == 0 {
                return Ok::<_, io::Error>(());
            }
            if upstream {
                let before = shared.upstream.fetch_add(n as u64, Ordering::Relaxed);
                if link.cut_after.is_some_and(|limit| before < limit && limit <= before + n as u64) {
                    shared.cuts.fetch_add(1, Ordering::Relaxed);
                    shared.cut.send_modify(|generation| *generation += 1);
                }
            }
            let now = Instant::now();
            if queue.send((now, buf[..n].to_vec())).is_err() {
                return Ok(());
            }
            let window = window.clone();
            tokio::spawn(async move {
                sleep_until(now + link.rtt).await;
                window.add_permits(n);
            });
        }
    };
    let write = async move {
        while let Some((read_at, bytes)) = queued.recv().await {
            sleep_until(read_at + link.rtt / 2).await;
            to.write_all(&bytes).await?;
        }
        to.shutdown().await
    };
    tokio::try_join!(read, write).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server: what it reads it writes back.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.into_split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_round_trip_is_added_and_a_window_limits_the_rate() {
        let target = echo().await;
        let rtt = Duration::from_millis(50);
        let line = DelayLine::start(target, Link { rtt, window: 64 * 1024, cut_after: None }, None).await.unwrap();
        let mut stream = TcpStream::connect(line.addr).await.unwrap();
        // One byte there and back crosses the line twice, half a round trip each way.
        let started = Instant::now();
        stream.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        stream.read_exact(&mut one).await.unwrap();
        assert!(started.elapsed() >= rtt, "{:?}", started.elapsed());
        // 1 MiB through a 64 KiB window takes 16 round trips at the least (each way overlaps).
        let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let started = Instant::now();
        let (mut r, mut w) = stream.into_split();
        let sent = data.clone();
        let writer = tokio::spawn(async move { w.write_all(&sent).await.unwrap() });
        let mut back = vec![0u8; data.len()];
        r.read_exact(&mut back).await.unwrap();
        writer.await.unwrap();
        assert_eq!(back, data, "the bytes arrive whole and in order");
        assert!(started.elapsed() >= rtt * 16, "{:?}", started.elapsed());
        assert_eq!(line.upstream_bytes(), 1 + (1 << 20));
    }

    #[tokio::test]
    async fn a_cut_drops_the_open_connections_once() {
        let target = echo().await;
        let link = Link { rtt: Duration::from_millis(2), window: 1 << 20, cut_after: Some(1000) };
        let line = DelayLine::start(target, link, None).await.unwrap();
        let mut stream = TcpStream::connect(line.addr).await.unwrap();
        stream.write_all(&[1u8; 2000]).await.unwrap();
        let mut rest = Vec::new();
        // The connection ends (closed or reset) without all 2000 bytes coming back.
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await.unwrap();
        assert!(rest.len() < 2000, "{}", rest.len());
        assert_eq!(line.cuts(), 1);
        // A new connection afterwards is carried as before.
        let mut again = TcpStream::connect(line.addr).await.unwrap();
        again.write_all(b"hello").await.unwrap();
        let mut five = [0u8; 5];
        again.read_exact(&mut five).await.unwrap();
        assert_eq!(&five, b"hello");
        assert_eq!(line.cuts(), 1, "only once");
    }
}
