//! `tollgate_proto::Scope::parse` and `ScopeSet::parse_list` on any text: no panic; an accepted
//! scope is its own text, ASCII, at most 128 bytes, and parses again to itself; a refusal shows at
//! most 64 characters of the input; an accepted list holds every item, re-serialised (space form
//! and JSON) parses back equal; a refused list has an item that is not a scope.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_proto::{Scope, ScopeError, ScopeSet};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    match Scope::parse(text) {
        Ok(s) => {
            assert_eq!(s.as_str(), text);
            assert!(text.len() <= 128 && text.is_ascii());
            assert_eq!(Scope::parse(&s.to_string()).as_ref(), Ok(&s));
        }
        Err(ScopeError::Malformed(shown)) => assert!(shown.chars().count() <= 64),
        Err(_) => {}
    }
    let items: Vec<&str> = text.split([' ', ',']).filter(|p| !p.is_empty()).collect();
    match ScopeSet::parse_list(text) {
        Ok(set) => {
            assert!(set.len() <= items.len());
            for item in &items {
                assert!(set.contains_str(item), "{item:?} missing from {set:?}");
            }
            let again = ScopeSet::parse_list(&set.to_string());
            assert_eq!(again.as_ref(), Ok(&set));
            let json = serde_json::to_string(&set).expect("a scope set serialises");
            let back: ScopeSet = serde_json::from_str(&json).expect("its JSON reads back");
            assert_eq!(back, set);
        }
        Err(_) => assert!(items.iter().any(|p| Scope::parse(p).is_err())),
    }
});
