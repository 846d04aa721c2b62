//! Page cursors: opaque and tamper-evident, the last id of the page and a MAC (the server's key)
//! binding it to the company, so a cursor cannot be forged nor used by another company.

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
pub(crate) fn encode(hasher: &SecretHasher, company: &CompanyId, after: &GroupId) -> String {
    let mut raw = after.to_string().into_bytes();
    raw.extend_from_slice(&tag(hasher, company, after));
    URL_SAFE_NO_PAD.encode(raw)
}

/// The id a cursor continues after; `None` for any text this server did not hand to `company`.
pub(crate) fn decode(hasher: &SecretHasher, company: &CompanyId, cursor: &str) -> Option<GroupId> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    if raw.len() != 24 + TAG_LEN {
        return None;
    }
    let id = std::str::from_utf8(&raw[..24])
        .ok()
        .and_then(|s| GroupId::parse(s).ok())?;
    let expected = tag(hasher, company, &id);
    bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &raw[24..])).then_some(id)
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
}
