//! Page cursors: opaque and tamper-evident, the last id of the page and a MAC (the server's key)
//! binding it to the company, so a cursor cannot be forged nor used by another company.
//!
//! Public (hidden) for the fuzz target `fuzz/fuzz_targets/cursor.rs`; not an API.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tollgate_core::ids::CompanyId;
use tollgate_core::secret::SecretHasher;

use crate::model::GroupId;

const PURPOSE: &str = "groups-cursor";
const TAG_LEN: usize = 16;

fn tag(hasher: &SecretHasher, company: &CompanyId, after: &GroupId) -> [u8; TAG_LEN] {
    let data = format!("{company}/{after}");
    let full = hasher.tag(PURPOSE, data.as_bytes());
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&full[..TAG_LEN]);
    t
}

/// The cursor of the page after `after`.
pub fn encode(hasher: &SecretHasher, company: &CompanyId, after: &GroupId) -> String {
    let mut raw = after.to_string().into_bytes();
    raw.extend_from_slice(&tag(hasher, company, after));
    URL_SAFE_NO_PAD.encode(raw)
}

/// The id a cursor continues after; `None` for any text this server did not hand to `company`.
///
/// Only the exact text [`encode`] made is accepted. Ids parse in either case, but the MAC is of
/// the id written in lowercase, so an id spelled otherwise (`AAAA…` for `aaaa…`) is refused rather
/// than read as the id it names: otherwise a cursor could be altered and still pass.
pub fn decode(hasher: &SecretHasher, company: &CompanyId, cursor: &str) -> Option<GroupId> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    if raw.len() != 24 + TAG_LEN {
        return None;
    }
    let (text, mac) = raw.split_at(24);
    let id = std::str::from_utf8(text)
        .ok()
        .and_then(|s| GroupId::parse(s).ok())
        .filter(|id| id.to_string().as_bytes() == text)?;
    let expected = tag(hasher, company, &id);
    bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], mac)).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_for_its_company_only_and_resists_tampering() {
        let hasher = SecretHasher::new(&[7u8; 32]);
        let a = CompanyId::parse("0123456789abcdef01234567").unwrap();
        let b = CompanyId::parse("76543210fedcba9876543210").unwrap();
        let id = GroupId::parse("aaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
        let c = encode(&hasher, &a, &id);
        assert_eq!(decode(&hasher, &a, &c), Some(id));
        assert_eq!(decode(&hasher, &b, &c), None, "another company's cursor");
        let mut forged = c.clone().into_bytes();
        forged[0] = if forged[0] == b'Y' { b'Z' } else { b'Y' };
        assert_eq!(
            decode(&hasher, &a, std::str::from_utf8(&forged).unwrap()),
            None
        );
        for junk in ["", "!!", "YWJj", &c[..c.len() - 1]] {
            assert_eq!(decode(&hasher, &a, junk), None, "{junk:?}");
        }
        let other_key = SecretHasher::new(&[8u8; 32]);
        assert_eq!(decode(&other_key, &a, &c), None, "another server's key");
    }

    /// The bug the fuzz target found: an id spelled in uppercase, with the MAC of its lowercase
    /// spelling, was read back as that id, so a cursor's text could be altered and still pass.
    #[test]
    fn a_cursor_whose_id_is_respelled_in_uppercase_is_refused() {
        let hasher = SecretHasher::new(&[7u8; 32]);
        let a = CompanyId::parse("0123456789abcdef01234567").unwrap();
        // Parsed from uppercase, the id encodes as its lowercase self and reads back.
        let id = GroupId::parse("ABCDEF0123456789ABCDEF01").unwrap();
        let c = encode(&hasher, &a, &id);
        assert_eq!(decode(&hasher, &a, &c), Some(id));
        let raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
        assert_eq!(&raw[..24], b"abcdef0123456789abcdef01");
        // The same id and MAC, the id's letters in uppercase: a different cursor, refused.
        let mut respelled = raw.clone();
        respelled[..24].make_ascii_uppercase();
        let respelled = URL_SAFE_NO_PAD.encode(respelled);
        assert_ne!(respelled, c);
        assert_eq!(decode(&hasher, &a, &respelled), None);
        // One letter changed in case only.
        let mut one = raw;
        one[0] = b'A';
        assert_eq!(decode(&hasher, &a, &URL_SAFE_NO_PAD.encode(one)), None);
    }
}

#[cfg(test)]
mod properties {
    //! The fuzz target's properties (`fuzz/fuzz_targets/cursor.rs`) as proptest cases.

    use proptest::prelude::*;

    use super::*;

    fn hasher() -> SecretHasher {
        SecretHasher::new(&[7u8; 32])
    }

    fn object_id() -> impl Strategy<Value = [u8; 12]> {
        any::<[u8; 12]>()
    }

    fn hex(b: &[u8; 12]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    proptest! {
        #[test]
        fn decoding_any_text_never_panics(text in ".{0,80}") {
            let company = CompanyId::parse("0123456789abcdef01234567").unwrap();
            let _ = decode(&hasher(), &company, &text);
        }

        #[test]
        fn decoding_base64_of_any_bytes_never_panics_nor_accepts_unsigned(
            bytes in proptest::collection::vec(any::<u8>(), 0..64)
        ) {
            let company = CompanyId::parse("0123456789abcdef01234567").unwrap();
            // Without the key no cursor can be made; any bytes at all are refused.
            prop_assert_eq!(decode(&hasher(), &company, &URL_SAFE_NO_PAD.encode(&bytes)), None);
        }

        #[test]
        fn a_cursor_reads_back_for_its_company_only(
            id in object_id(),
            a in object_id(),
            b in object_id(),
            upper in any::<bool>(),
        ) {
            let text = hex(&id);
            let text = if upper { text.to_ascii_uppercase() } else { text };
            let id = GroupId::parse(&text).unwrap();
            let a = CompanyId::parse(&hex(&a)).unwrap();
            let b = CompanyId::parse(&hex(&b)).unwrap();
            let c = encode(&hasher(), &a, &id);
            prop_assert_eq!(decode(&hasher(), &a, &c), Some(id));
            if a != b {
                prop_assert_eq!(decode(&hasher(), &b, &c), None);
            }
        }

        #[test]
        fn only_the_exact_text_encode_made_decodes(id in object_id(), mask in any::<u32>()) {
            let a = CompanyId::parse("0123456789abcdef01234567").unwrap();
            let id = GroupId::parse(&hex(&id)).unwrap();
            let c = encode(&hasher(), &a, &id);
            let mut raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
            for (i, b) in raw[..24].iter_mut().enumerate() {
                if mask >> i & 1 == 1 {
                    b.make_ascii_uppercase();
                }
            }
            let respelled = URL_SAFE_NO_PAD.encode(&raw);
            let decoded = decode(&hasher(), &a, &respelled);
            prop_assert_eq!(decoded.is_some(), respelled == c, "{}", respelled);
        }

        #[test]
        fn a_changed_cursor_is_refused(
            id in object_id(),
            at in any::<prop::sample::Index>(),
            to in any::<u8>(),
        ) {
            let a = CompanyId::parse("0123456789abcdef01234567").unwrap();
            let id = GroupId::parse(&hex(&id)).unwrap();
            let c = encode(&hasher(), &a, &id);
            let mut raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
            let i = at.index(raw.len());
            prop_assume!(raw[i] != to);
            raw[i] = to;
            prop_assert_eq!(decode(&hasher(), &a, &URL_SAFE_NO_PAD.encode(&raw)), None);
        }
    }
}
