//! `tollgate_server::Settings::from_toml_str` (what `Settings::from_file` does with a file's text)
//! on any text: no panic; what loads validates without panicking, prints (Debug) without panicking,
//! and names no configuration file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_server::Settings;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Settings::from_toml_str(&text) {
        Ok(s) => {
            assert!(s.config_file.is_none());
            let _ = s.validate();
            // Not `key_wrap`: it reads the file the text names (which could be `/dev/stdin`).
            let _ = format!("{s:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
