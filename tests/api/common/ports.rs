//! Ports for tests that need "nothing listens here": held by the test for
//! its whole lifetime, so no other process can start listening on them.

use std::net::SocketAddr;

/// A loopback port bound but never listened on: a connection to it is
/// refused (RST) for as long as this value lives, and no one else can bind
/// it meanwhile (unlike a port bound, read and released).
pub struct ClosedPort {
    socket: tokio::net::TcpSocket,
    addr: SocketAddr,
}

impl ClosedPort {
    /// Reserves a fresh port.
    pub fn new() -> Self {
        Self::bind("127.0.0.1:0".parse().unwrap()).expect("bind an ephemeral port")
    }

    /// Reserves `addr`, if no one holds it.
    pub fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        // A port just released by a server has TIME_WAIT entries; those do
        // not answer, so they need not stop the reservation.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let addr = socket.local_addr()?;
        Ok(Self { socket, addr })
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ClosedPort {
    fn drop(&mut self) {
        // The socket closes with it; named here so the field is not unused.
        let _ = &self.socket;
    }
}
