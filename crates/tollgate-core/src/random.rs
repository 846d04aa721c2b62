//! Randomness from aws-lc-rs's system RNG (the one crypto backend we link).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// Fills `N` random bytes. The system RNG failing is not recoverable; we return zeros never: the
/// caller gets an error instead.
pub fn bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut b = [0u8; N];
    SystemRandom::new().fill(&mut b).map_err(|_| RandomError)?;
    Ok(b)
}

/// Draws once from the RNG, so that its one-time set-up (aws-lc seeds from a CPU-jitter entropy
/// source, about 20 ms) can run on a spare thread while start-up does other work.
pub fn warm_up() -> Result<(), RandomError> {
    bytes::<16>().map(|_| ())
}

/// The operating system's random number generator failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

/// `bytes` in lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}
