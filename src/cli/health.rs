//! `tokenbot health`: asks a running tokenbot process for its `/health` and exits 0 when it
//! answers 200 (`ok`, or `degraded`: working, but an operator should look), 1 otherwise (503,
//! no answer in time, nothing listening). It is the container health check of `compose.yaml`,
//! so the image needs no HTTP client; it asks the process rather than Postgres and NATS
//! directly, because a process that cannot serve is unhealthy even when its dependencies are
//! fine, and the process's own `/health` already checks them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use clap::Args;

use crate::configuration::Settings;

/// `tokenbot health [--url URL] [--timeout-s N]`.
#[derive(Args)]
pub struct HealthArgs {
    /// The process to ask, e.g. http://10.0.0.5:8000 [default: HTTP_ADDR on this machine; an
    /// unspecified address such as 0.0.0.0 is asked on loopback].
    #[arg(long)]
    pub url: Option<String>,
    /// Seconds to wait for the answer (`/health` gives each of its checks up to 2 s).
    #[arg(long, default_value_t = 10)]
    pub timeout_s: u64,
}

/// The base URL that reaches a process listening on `addr` from this machine.
pub fn local_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Asks, prints the verdict (stdout when healthy, stderr when not) and returns the exit status.
pub async fn run(settings: &Settings, args: HealthArgs) -> anyhow::Result<i32> {
    let base = args.url.unwrap_or_else(|| local_url(settings.http_addr));
    let url = format!("{}/health", base.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_s.max(1)))
        .build()?;
    match client.get(&url).send().await {
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if status.is_success() {
                println!("healthy: {url} answered {status}: {body}");
                Ok(0)
            } else {
                eprintln!("unhealthy: {url} answered {status}: {body}");
                Ok(1)
            }
        }
        Err(e) => {
            eprintln!("unhealthy: {url} did not answer: {e}");
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_asked_on_loopback() {
        let url = |s: &str| local_url(s.parse().expect("address"));
        assert_eq!(url("0.0.0.0:8000"), "http://127.0.0.1:8000");
        assert_eq!(url("[::]:8000"), "http://[::1]:8000");
        assert_eq!(url("10.1.2.3:9000"), "http://10.1.2.3:9000");
    }
}
