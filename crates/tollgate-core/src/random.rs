//! Randomness from aws-lc-rs's system RNG (the one crypto backend we link).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// Fills `N` random bytes. The system RNG failing is not recoverable; we return zeros never: the
/// caller gets an error instead.
pub(crate) fn bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut b = [0u8; N];
    SystemRandom::new().fill(&mut b).map_err(|_| RandomError)?;
    Ok(b)
}

/// The operating system's random number generator failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}
