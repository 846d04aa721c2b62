//! Built-in TLS (`[tls]`, or the binary's `--tls-cert` / `--tls-key`): rustls over aws-lc-rs, the
//! workspace's one crypto backend.
//!
//! - The certificate chain and private key are PEM files. A key that does not match the
//!   certificate is refused at start-up, not at the first handshake.
//! - ALPN offers `h2` then `http/1.1`; TLS 1.2 and 1.3 with rustls' safe defaults.
//! - [`LiveTls`] holds the configuration in force. New connections take whatever is current; a
//!   reload ([`watch`]: SIGHUP, or a change of either file's content) swaps it and leaves open
//!   connections alone. Files that do not load are refused with a log line, and the old
//!   certificate stays.
//! - While TLS is served, responses carry `Strict-Transport-Security` (`hsts_max_age`; 0 leaves it
//!   out), panel cookies are `Secure`, the default issuer is `https://`, and the gateway tells
//!   upstreams `X-Forwarded-Proto: https`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio::sync::watch;

/// How often the certificate and key files are read for changes.
const POLL: Duration = Duration::from_secs(1);

/// `[tls]`: serve HTTPS.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The certificate chain (PEM; the server's certificate first).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// `max-age` of `Strict-Transport-Security`, in seconds (default one year; 0: no header).
    #[serde(default = "default_hsts_max_age")]
    pub hsts_max_age: u64,
}

fn default_hsts_max_age() -> u64 {
    31_536_000
}

impl TlsSettings {
    /// TLS from these two files, with the default HSTS age.
    pub fn new(cert: PathBuf, key: PathBuf) -> Self {
        Self {
            cert,
            key,
            hsts_max_age: default_hsts_max_age(),
        }
    }

    /// The `Strict-Transport-Security` value, if one is sent.
    pub(crate) fn hsts(&self) -> Option<axum::http::HeaderValue> {
        (self.hsts_max_age > 0).then(|| {
            axum::http::HeaderValue::try_from(format!("max-age={}", self.hsts_max_age))
                .unwrap_or_else(|_| axum::http::HeaderValue::from_static("max-age=31536000"))
        })
    }
}

/// The certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file cannot be read or holds no usable PEM item.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the pair (most often: the key is not the certificate's).
    #[error("the TLS certificate {cert} and key {key} cannot be used together: {source}")]
    Pair {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// rustls' reason.
        source: rustls::Error,
    },
}

/// Reads the two files into a server configuration.
fn load(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let file_error = |path: &Path, message: String| TlsError::File {
        path: path.display().to_string(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(&settings.cert)
        .and_then(|items| items.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error(&settings.cert, format!("not a PEM certificate chain ({e})")))?;
    if certs.is_empty() {
        return Err(file_error(&settings.cert, "holds no certificate".into()));
    }
    // The key's error text never shows the file's content.
    let key = PrivateKeyDer::from_pem_file(&settings.key)
        .map_err(|e| file_error(&settings.key, format!("not a PEM private key ({e})")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Pair {
            cert: settings.cert.display().to_string(),
            key: settings.key.display().to_string(),
            source,
        })?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|source| TlsError::Pair {
            cert: settings.cert.display().to_string(),
            key: settings.key.display().to_string(),
            source,
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The TLS configuration in force.
pub(crate) struct LiveTls {
    settings: TlsSettings,
    current: ArcSwap<ServerConfig>,
}

impl std::fmt::Debug for LiveTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTls")
            .field("cert", &self.settings.cert)
            .field("key", &self.settings.key)
            .finish_non_exhaustive()
    }
}

impl LiveTls {
    /// Loads the files; an error if they are unusable.
    pub(crate) fn new(settings: &TlsSettings) -> Result<Self, TlsError> {
        Ok(Self {
            current: ArcSwap::from_pointee(load(settings)?),
            settings: settings.clone(),
        })
    }

    /// An acceptor with the configuration in force now.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.load_full())
    }

    /// Reads the files again; on an error the configuration in force stays.
    fn reload(&self) -> Result<(), TlsError> {
        self.current.store(Arc::new(load(&self.settings)?));
        Ok(())
    }

    fn contents(&self) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        (
            std::fs::read(&self.settings.cert).ok(),
            std::fs::read(&self.settings.key).ok(),
        )
    }
}

/// Reloads the certificate and key on SIGHUP and whenever either file's content changes, until
/// `stop`. A certificate and key replaced one after the other may be read as a mismatched pair in
/// between: that pair is refused, and the next poll takes the matching one.
pub(crate) async fn watch(tls: Arc<LiveTls>, mut stop: watch::Receiver<bool>) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; the TLS files are still watched");
            None
        }
    };
    let mut seen = tls.contents();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let cause = tokio::select! {
            Some(()) = async { hangup.as_mut()?.recv().await } => "SIGHUP",
            _ = tick.tick() => {
                let now = tls.contents();
                if now == seen {
                    continue;
                }
                seen = now;
                "file changed"
            }
            _ = stop.changed() => return,
        };
        match tls.reload() {
            Ok(()) => tracing::info!(
                cause,
                cert = %tls.settings.cert.display(),
                "TLS certificate reloaded"
            ),
            Err(error) => tracing::warn!(
                cause,
                %error,
                "TLS certificate refused; the one in force stays"
            ),
        }
    }
}
