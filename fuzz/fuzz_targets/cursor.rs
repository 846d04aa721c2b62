//! Page cursors (`tollgate_groups::cursor`). Any text: no panic, and a cursor that decodes is
//! exactly the text `encode` makes for that id and company (so no other spelling, case included,
//! is read as a cursor), and never decodes for another company or under another key. Any id (its
//! hex in any mix of cases) and two companies: decode(encode(id)) is the id, for its company only;
//! the cursor with one byte changed does not decode.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tollgate_core::ids::CompanyId;
use tollgate_core::secret::SecretHasher;
use tollgate_groups::GroupId;
use tollgate_groups::cursor::{decode, encode};

struct Keys {
    hasher: SecretHasher,
    other_key: SecretHasher,
    a: CompanyId,
    b: CompanyId,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| Keys {
        hasher: SecretHasher::new(&[7u8; 32]),
        other_key: SecretHasher::new(&[8u8; 32]),
        a: CompanyId::parse("0123456789abcdef01234567").expect("company"),
        b: CompanyId::parse("76543210fedcba9876543210").expect("company"),
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let k = keys();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        // Any text as a cursor.
        let text = String::from_utf8_lossy(rest);
        if let Some(id) = decode(&k.hasher, &k.a, &text) {
            assert_eq!(
                encode(&k.hasher, &k.a, &id),
                text,
                "a second spelling decodes"
            );
            assert_eq!(
                decode(&k.hasher, &k.b, &text),
                None,
                "decodes for two companies"
            );
            assert_eq!(
                decode(&k.other_key, &k.a, &text),
                None,
                "decodes under two keys"
            );
        }
        let _ = decode(&k.hasher, &k.b, &text);
        let _ = decode(&k.other_key, &k.a, &text);
        // The base64 of any bytes (reaches the id and MAC checks far more often).
        let c = URL_SAFE_NO_PAD.encode(rest);
        if let Some(id) = decode(&k.hasher, &k.a, &c) {
            assert_eq!(encode(&k.hasher, &k.a, &id), c, "a second spelling decodes");
        }
        return;
    }
    // id (12 bytes), two companies (12 each), a case mask (3 bytes), then an edit.
    if rest.len() < 12 + 12 + 12 + 3 + 2 {
        return;
    }
    let (id, rest) = rest.split_at(12);
    let (ca, rest) = rest.split_at(12);
    let (cb, rest) = rest.split_at(12);
    let (mask, edit) = rest.split_at(3);
    let text: String = hex(id)
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if mask[i % 3] >> (i % 8) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let id = GroupId::parse(&text).expect("24 hex digits parse in any case");
    let a = CompanyId::parse(&hex(ca)).expect("company");
    let b = CompanyId::parse(&hex(cb)).expect("company");
    let c = encode(&k.hasher, &a, &id);
    assert_eq!(decode(&k.hasher, &a, &c), Some(id));
    if a != b {
        assert_eq!(decode(&k.hasher, &b, &c), None, "another company's cursor");
    }
    assert_eq!(decode(&k.other_key, &a, &c), None, "another key's cursor");
    // One byte of the cursor's bytes changed.
    let mut raw = URL_SAFE_NO_PAD.decode(&c).expect("a cursor is base64url");
    let at = usize::from(edit[0]) % raw.len();
    if raw[at] != edit[1] {
        raw[at] = edit[1];
        let changed = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(
            decode(&k.hasher, &a, &changed),
            None,
            "a changed cursor decodes"
        );
    }
    // One character of the cursor's text changed.
    let mut t = c.clone().into_bytes();
    let at = usize::from(edit[1]) % t.len();
    if t[at] != edit[0] && edit[0].is_ascii() {
        t[at] = edit[0];
        let changed = String::from_utf8(t).expect("ASCII");
        assert_eq!(
            decode(&k.hasher, &a, &changed),
            None,
            "a changed cursor decodes"
        );
    }
});
