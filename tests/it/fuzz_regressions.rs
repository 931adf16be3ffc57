//! Replays the minimized fuzz findings of `tests/fixtures/fuzz/<target>/`
//! through exactly the code each cargo-fuzz target runs (the `fuzz-checks`
//! crate, `fuzz/checks/`), so they stay fixed in a plain `cargo test`. To add one:
//! `cargo fuzz tmin <target> <artifact>`, then copy the minimized file into
//! the target's folder under a name that says what it caught.

use std::path::PathBuf;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    // A target that never failed has no folder (git keeps no empty ones).
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
    files.sort();
    for path in files {
        let data = std::fs::read(&path).expect("read");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Err(panic) = std::panic::catch_unwind(|| run(&data)) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{target}/{name} fails again: {message}");
        }
    }
}

#[test]
fn article() {
    replay("article", fuzz_checks::article);
}

#[test]
fn date() {
    replay("date", fuzz_checks::date);
}

#[test]
fn html() {
    replay("html", fuzz_checks::html);
}

#[test]
fn feed() {
    replay("feed", fuzz_checks::feed);
}
