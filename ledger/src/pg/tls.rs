//! TLS to Postgres over rustls: tokio-postgres's `MakeTlsConnect` with the verification
//! `sslmode` asks for (see [`super::config`]).
//!
//! - `prefer`/`require`: encrypted, the certificate is not checked (libpq does the same);
//! - `verify-ca`: the chain must lead to a trusted root; the host name is not compared;
//! - `verify-full`: the chain, and the certificate must name the host of the URL.
//!
//! Channel binding (`SCRAM-SHA-256-PLUS`) is not offered: its `tls-server-end-point` hash
//! depends on the certificate's signature algorithm, which rustls does not expose. With the
//! default `channel_binding=prefer` the server falls back to plain SCRAM; `verify-full` is what
//! authenticates the server.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use super::verification::{RootCerts, Verification};

/// Why the trusted roots could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    /// The `sslrootcert` file is missing or unreadable.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The file holds no usable certificate.
    #[error("{0} holds no PEM certificate rustls accepts")]
    Empty(String),
    /// rustls refused to build a verifier from the roots.
    #[error("rustls cannot verify with these roots")]
    Verifier(#[source] rustls::client::VerifierBuilderError),
    /// rustls refused the protocol versions.
    #[error("rustls refuses the TLS configuration")]
    Config(#[source] rustls::Error),
}

/// Why a TLS session with Postgres could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PgTlsError {
    /// The host is neither a DNS name nor an IP address.
    #[error("{0:?} is not a host name TLS can check")]
    InvalidHost(String),
    /// The server's certificate chain does not lead to a trusted root.
    #[error(
        "the certificate of the Postgres server {host} is not signed by {roots} \
         (a wrong sslrootcert, or a server impersonating the database)"
    )]
    UntrustedCertificate {
        /// The host connected to.
        host: String,
        /// The trusted roots.
        roots: String,
    },
    /// `verify-full` and the certificate does not name the host.
    #[error(
        "the certificate of the Postgres server does not name {host} (sslmode=verify-full: the \
         URL's host must be one of the names in the certificate): {detail}"
    )]
    WrongHost {
        /// The host connected to.
        host: String,
        /// rustls's account, listing the names the certificate has.
        detail: String,
    },
    /// Any other handshake failure.
    #[error("TLS handshake with the Postgres server {host} failed")]
    Handshake {
        /// The host connected to.
        host: String,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// The TLS connector for one Postgres URL (cheap to clone: the rustls configuration is shared).
#[derive(Clone)]
pub struct PgTls {
    client: Arc<rustls::ClientConfig>,
    roots: Option<String>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl PgTls {
    /// The connector for `verification`; reads the root certificates now.
    pub fn new(verification: &Verification) -> Result<Self, RootsError> {
        let provider = provider();
        let (verifier, roots): (Arc<dyn ServerCertVerifier>, _) = match verification {
            Verification::None => {
                let lax = Lax {
                    provider: provider.clone(),
                    chain: None,
                };
                (Arc::new(lax), None)
            }
            Verification::Chain { roots, host_name } => {
                let store = Arc::new(load_roots(roots)?);
                let webpki = WebPkiServerVerifier::builder_with_provider(store, provider.clone())
                    .build()
                    .map_err(RootsError::Verifier)?;
                let verifier: Arc<dyn ServerCertVerifier> = if *host_name {
                    webpki
                } else {
                    Arc::new(Lax {
                        provider: provider.clone(),
                        chain: Some(webpki),
                    })
                };
                (verifier, Some(roots.to_string()))
            }
        };
        let mut client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(RootsError::Config)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        // Postgres 17's direct TLS negotiation requires this ALPN; older servers ignore it.
        client.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Self {
            client: Arc::new(client),
            roots,
        })
    }
}

fn load_roots(roots: &RootCerts) -> Result<RootCertStore, RootsError> {
    let mut store = RootCertStore::empty();
    match roots {
        RootCerts::System => {
            // Unreadable entries in the system store are skipped, as every TLS client does.
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(RootsError::Empty("the system's certificate store".into()));
            }
        }
        RootCerts::File(path) => {
            let shown = path.display().to_string();
            let read = |source| RootsError::Read {
                path: shown.clone(),
                source,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(read)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(read)?;
            store.add_parsable_certificates(certs);
            if store.is_empty() {
                return Err(RootsError::Empty(shown));
            }
        }
    }
    Ok(store)
}

impl<S> MakeTlsConnect<S> for PgTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type TlsConnect = PgTlsConnect;
    type Error = PgTlsError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<PgTlsConnect, PgTlsError> {
        let name = ServerName::try_from(domain.to_string())
            .map_err(|_| PgTlsError::InvalidHost(domain.to_string()))?;
        Ok(PgTlsConnect {
            connector: tokio_rustls::TlsConnector::from(self.client.clone()),
            name,
            roots: self.roots.clone(),
        })
    }
}

/// One handshake, made by [`PgTls`].
pub struct PgTlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
    roots: Option<String>,
}

impl<S> TlsConnect<S> for PgTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type Error = PgTlsError;
    type Future = Pin<Box<dyn Future<Output = Result<PgTlsStream<S>, PgTlsError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let host = self.name.to_str().into_owned();
            match self.connector.connect(self.name, stream).await {
                Ok(tls) => Ok(PgTlsStream(Box::new(tls))),
                Err(e) => Err(explain(host, self.roots, e)),
            }
        })
    }
}

/// Turns rustls's verdict into what an operator needs to read.
fn explain(host: String, roots: Option<String>, e: io::Error) -> PgTlsError {
    let verdict = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match verdict {
        Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            PgTlsError::UntrustedCertificate {
                host,
                roots: roots.unwrap_or_default(),
            }
        }
        Some(rustls::Error::InvalidCertificate(
            c @ (CertificateError::NotValidForName
            | CertificateError::NotValidForNameContext { .. }),
        )) => PgTlsError::WrongHost {
            host,
            detail: c.to_string(),
        },
        _ => PgTlsError::Handshake { host, source: e },
    }
}

/// An established TLS session with Postgres.
pub struct PgTlsStream<S = tokio_postgres::Socket>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for PgTlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

/// The two checks of the server's certificate laxer than webpki's own (which `verify-full` uses
/// as it is). Either way the handshake's signatures are checked against the certificate
/// presented, with the provider's algorithms, as webpki's verifier does.
#[derive(Debug)]
struct Lax {
    provider: Arc<CryptoProvider>,
    /// `None`: `prefer`/`require` without roots, encryption only, as libpq. `Some`: `verify-ca`,
    /// webpki's verdict except that a certificate naming another host is accepted (webpki checks
    /// the name only after the chain, so the chain was good).
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl Lax {
    fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.provider.signature_verification_algorithms
    }
}

impl ServerCertVerifier for Lax {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}
