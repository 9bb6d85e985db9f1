//! Free TCP ports on loopback.

/// A port nothing listens on right now (the OS picks it; a race with another process is possible
/// but harmless for tests that bind it within milliseconds).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("testkit: cannot find a free port: {e}"))
}
