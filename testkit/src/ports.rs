//! Free TCP ports on loopback.

/// A port that nothing listens on right now.
///
/// The OS picks it (bind to port 0) and the listener is dropped at once, so the server we start
/// next can take it. Another process could grab it in between; for a test harness starting a
/// server within milliseconds that race is rare enough, and the server then fails loudly.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("testkit: cannot find a free port on 127.0.0.1: {e}"))
}
