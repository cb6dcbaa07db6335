//! Hostile clients and networks, over real sockets: stalled uploads, partial
//! HTTP/2 prefaces, connection floods, clients that stop reading, HTTP/2
//! clients that never open a stream, connections that live too long.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::service_fn;

use crate::common::binary::Process;
use crate::common::{fresh_database, spawn_app_with};
use crate::lifecycle::{CONTINUE, database_url};

const STALLED_UPLOAD: &[u8] = b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99\r\n\r\n{";

/// Opens `n` connections that each send the head of an upload and one byte
/// of its body, then stall; returns once the app is reading every body
/// (the server's interim answer to `expect: 100-continue` says so).
async fn stall(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99\r\nExpect: 100-continue\r\n\r\n{")
            .await
            .unwrap();
        streams.push(stream);
    }
    for stream in &mut streams {
        let mut interim = [0u8; CONTINUE.len()];
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut interim))
            .await
            .expect("the app reads the body")
            .unwrap();
        assert_eq!(&interim, CONTINUE, "{}", String::from_utf8_lossy(&interim));
    }
    streams
}

/// The server's side of its TCP sockets on `port`: each one's state (as
/// `ss` names it) and the bytes it has received but not read yet (for a
/// listening socket, the connections waiting to be accepted).
fn server_sockets(port: u16) -> Vec<(String, u64)> {
    let output = std::process::Command::new("ss")
        .args(["-Htan", &format!("( sport = :{port} )")])
        .output()
        .expect("ss (iproute2) is installed");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let mut fields = line.split_whitespace();
            let state = fields.next().unwrap().to_owned();
            (state, fields.next().unwrap().parse().unwrap())
        })
        .collect()
}

/// Polls `condition` on the server's sockets on `port` until it holds (at
/// most 10 s); the last sockets seen are in the panic message otherwise.
async fn until_sockets(port: u16, what: &str, condition: impl Fn(&[(String, u64)]) -> bool) {
    let started = Instant::now();
    loop {
        let sockets = server_sockets(port);
        if condition(&sockets) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: not within 10 s; {} sockets, e.g. {:?}",
            sockets.len(),
            &sockets[..sockets.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stalled_uploads_hold_no_concurrency_slot_and_never_block_the_probes() {
    let app = spawn_app_with(
        |s| {
            s.max_concurrent_requests = 4;
            s.connections.body_grace = Duration::from_secs(30);
        },
        |table, _| table,
    )
    .await;
    let user = app.create_user("still-served@example.com").await;
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    let _stalled = stall(app.addr, 4 + 8).await;
    for path in ["/healthz", "/readyz", path.as_str()] {
        let started = Instant::now();
        let response = app.get(path).await;
        assert_eq!(response.status, 200, "{path}: {:?}", response.body);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{path} took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_body_slower_than_the_minimum_rate_ends_with_408_after_the_grace() {
    let app = spawn_app_with(
        |s| {
            s.connections.body_grace = Duration::from_millis(300);
            s.connections.body_min_rate = 240;
        },
        |table, _| table,
    )
    .await;
    let started = Instant::now();
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(STALLED_UPLOAD).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .expect("answered well before the 10 s request deadline")
        .unwrap();
    let elapsed = started.elapsed();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("\"code\":\"timeout\""), "{response}");
    assert!(
        elapsed >= Duration::from_millis(300),
        "not before the grace: {elapsed:?}"
    );
    assert_eq!(app.user_count().await, 0, "nothing was written");
}

#[tokio::test]
async fn a_body_at_a_steady_pace_is_read_whole() {
    let app = spawn_app_with(
        |s| {
            s.connections.body_grace = Duration::from_millis(200);
            s.connections.body_min_rate = 10;
        },
        |table, _| table,
    )
    .await;
    let body = br#"{"email":"steady@example.com"}"#;
    let head = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // Five bytes every 100 ms: 50 bytes a second, above the minimum of 10.
    for chunk in body.chunks(5) {
        stream.write_all(chunk).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
}

/// CPU time (user + system) the process `pid` has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which is in parentheses).
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test]
async fn partial_http2_prefaces_cost_nothing_while_they_wait() {
    let db = fresh_database().await;
    let url = database_url(&db);
    let (process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("APP_ENV", "prod"),
        ("AUTH_MODE", "none"),
        ("MIGRATE_ON_START", "true"),
        ("HEADER_READ_TIMEOUT_MS", "20000"),
    ])
    .await;
    let pid = process.child.id().unwrap();
    let mut sockets = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        sockets.push(stream);
    }
    // The server has taken them all (none waits to be accepted) and read
    // what each sent (nothing left unread)…
    until_sockets(addr.port(), "1,000 prefaces accepted and read", |sockets| {
        sockets.iter().filter(|(state, _)| state == "ESTAB").count() == 1000
            && sockets.iter().all(|(_, unread)| *unread == 0)
    })
    .await;
    // …then a quiet three seconds are measured: the window itself is the
    // test, well inside HEADER_READ_TIMEOUT_MS, so no connection ends in it.
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = cpu_ticks(pid) - before;
    // Clock ticks are 1/100 s: 2 % of a core over 3 s is 6 ticks.
    assert!(
        used <= 6,
        "{used} ticks of CPU over 3 s with 1,000 partial prefaces"
    );
    // They are still served once the rest of the preface comes.
    let mut first = sockets.swap_remove(0);
    first.write_all(b"\r\nSM\r\n\r\n").await.unwrap();
    first.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    let mut frame = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(5), first.read_exact(&mut frame))
        .await
        .expect("the server answers the completed preface")
        .unwrap();
    assert_eq!(frame[3], 4, "a SETTINGS frame");
}

#[tokio::test]
async fn http2_advertises_a_bounded_number_of_concurrent_streams() {
    let app = spawn_app_with(|_| {}, |table, _| table).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(head[3], 4, "the server's first frame is SETTINGS");
    let length = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload).await.unwrap();
    let max_streams = payload
        .chunks(6)
        .find(|s| u16::from_be_bytes([s[0], s[1]]) == 3)
        .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]));
    assert_eq!(
        max_streams,
        Some(backend::server::connection::MAX_CONCURRENT_STREAMS)
    );
}

#[tokio::test]
async fn an_http2_client_that_opens_no_stream_is_let_go() {
    let app = spawn_app_with(
        |s| s.header_read_timeout = Duration::from_millis(300),
        |table, _| table,
    )
    .await;
    let stream = TcpStream::connect(app.addr).await.unwrap();
    let (_sender, connection) = hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(
        TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .unwrap();
    let started = Instant::now();
    // hyper's client answers pings; the server must still end it.
    tokio::time::timeout(Duration::from_secs(5), connection)
        .await
        .expect("closed by the server for idleness")
        .ok();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
}

#[tokio::test]
async fn connections_past_their_maximum_age_are_retired_gracefully() {
    let app = spawn_app_with(
        |s| s.connections.max_age = Duration::from_millis(300),
        |table, _| table,
    )
    .await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Idle and past its age: closed without another response.
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
        .await
        .expect("closed once past its age")
        .unwrap_or(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn at_the_connection_cap_accepting_pauses_until_one_closes() {
    let app = spawn_app_with(|s| s.connections.max_connections = 3, |table, _| table).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    // The fourth is queued by the kernel, not served and not refused.
    let mut fourth = TcpStream::connect(app.addr).await.unwrap();
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let early = tokio::time::timeout(
        Duration::from_millis(300),
        fourth.read_to_end(&mut response),
    )
    .await;
    assert!(
        early.is_err() && response.is_empty(),
        "served beyond the cap"
    );
    drop(held.pop());
    tokio::time::timeout(Duration::from_secs(3), fourth.read_to_end(&mut response))
        .await
        .expect("served once a place is free")
        .unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200"));
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_at_the_write_deadline() {
    // More than any socket buffer on the way can hold (the kernel's send
    // buffer grows to 4 MiB at most by default).
    const SIZE: usize = 16 * 1024 * 1024;
    const WRITE_TIMEOUT: Duration = Duration::from_millis(300);
    let big = Bytes::from(vec![b'x'; SIZE]);
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    let app = spawn_app_with(
        |s| s.connections.write_timeout = WRITE_TIMEOUT,
        move |table, _| {
            table.route(
                "/big",
                Method::GET,
                backend::router::Access::Open,
                service_fn(move |_req: backend::http::Request| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let body = big.clone();
                    async move {
                        Ok::<_, backend::error::AppError>(backend::http::Response::new(
                            http_body_util::Full::new(body),
                        ))
                    }
                }),
            )
        },
    )
    .await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(app.addr).await.unwrap();
    // Ask for 16 MiB and never read it: the server's writes block.
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let asked = Instant::now();
    // Until the server closes its side (which leaves the established state
    // with the unsent rest of the response still queued).
    until_sockets(app.addr.port(), "closed by the server", |sockets| {
        !sockets.iter().any(|(state, _)| state == "ESTAB")
    })
    .await;
    let closed = asked.elapsed();
    assert!(closed >= WRITE_TIMEOUT, "closed after {closed:?}");
    assert_eq!(served.load(Ordering::SeqCst), 1);
    // The server gave up: reading now ends early instead of receiving the
    // whole response.
    let mut received = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the connection was closed by the server");
    assert!(received.len() < SIZE, "{} bytes", received.len());
}

#[tokio::test]
async fn accepted_sockets_have_tcp_keepalive() {
    let app = spawn_app_with(|_| {}, |table, _| table).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let _ = stream.read(&mut buf).await.unwrap();
    let output = std::process::Command::new("ss")
        .args([
            "-tno",
            "state",
            "established",
            &format!("( sport = :{} )", app.addr.port()),
        ])
        .output()
        .expect("ss (iproute2) is installed");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("keepalive"), "{text}");
}
