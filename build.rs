//! Bundles OpenCC's dictionaries and conversion configurations, as
//! ferrous-opencc ships them, into the binary (`src/opencc/data.rs`
//! includes what this writes). refeed matches with its own automaton
//! (`src/opencc/chain.rs`): ferrous-opencc's matcher walks its FST at every
//! character, a tenth of the speed issue 14 asks for. The crate stays a
//! build dependency only so that its source, and so its data, is on disk.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    if let Err(e) = run() {
        panic!("refeed build script: {e}");
    }
}

fn run() -> Result<(), String> {
    let assets = ferrous_opencc_dir()?.join("assets");
    let mut out = String::from("// Written by build.rs.\n");
    out.push_str("pub const CONFIGS: &[(&str, &str)] = &[\n");
    for path in files(&assets, "json")? {
        entry(&mut out, &path)?;
    }
    out.push_str("];\npub const DICTIONARIES: &[(&str, &str)] = &[\n");
    for path in files(&assets.join("dictionaries"), "txt")? {
        entry(&mut out, &path)?;
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    std::fs::write(dest.join("opencc_data.rs"), out).map_err(|e| e.to_string())?;
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");
    Ok(())
}

/// `("STPhrases", include_str!("…/STPhrases.txt")),`: named by file stem,
/// as the configurations name them (with `.ocd2` for `.txt`).
fn entry(out: &mut String, path: &Path) -> Result<(), String> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| format!("{} has no UTF-8 name", path.display()))?;
    let full = path
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))?;
    println!("cargo:rerun-if-changed={full}");
    writeln!(out, "    ({stem:?}, include_str!({full:?})),").map_err(|e| e.to_string())
}

fn files(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == extension))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no .{extension} file in {}", dir.display()));
    }
    Ok(paths)
}

/// Where cargo unpacked ferrous-opencc (registry, vendored or git source
/// alike), asked of `cargo metadata` offline: the outer build has fetched
/// it. The question is put about a manifest of its own, which depends on
/// ferrous-opencc alone: metadata about refeed's would need every
/// development dependency on disk, which `cargo build` does not fetch.
fn ferrous_opencc_dir() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").map_err(|e| format!("CARGO: {e}"))?;
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let probe = out.join("ferrous-opencc-probe");
    std::fs::create_dir_all(&probe).map_err(|e| e.to_string())?;
    let version = locked_version("ferrous-opencc").unwrap_or_else(|| "0.4".into());
    let manifest = format!(
        "[package]\nname = \"probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         [lib]\npath = \"lib.rs\"\n\
         [dependencies]\nferrous-opencc = {{ version = \"={version}\", default-features = false, \
         features = [\"japanese-conversion\"] }}\n[workspace]\n"
    );
    std::fs::write(probe.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::write(probe.join("lib.rs"), "").map_err(|e| e.to_string())?;
    // Built for the host, so fetched for the host's platform only.
    let host = std::env::var("HOST").map_err(|e| e.to_string())?;
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host, "--manifest-path"])
        .arg(probe.join("Cargo.toml"))
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("cargo metadata failed: {stderr}"));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let packages = metadata["packages"].as_array().ok_or("no packages")?;
    let manifest_path = packages
        .iter()
        .find(|p| p["name"] == "ferrous-opencc")
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or("ferrous-opencc is not among the dependencies")?;
    Path::new(manifest_path)
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{manifest_path} has no folder"))
}

/// The version of `name` that Cargo.lock pins, when there is one.
fn locked_version(name: &str) -> Option<String> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let lock = std::fs::read_to_string(Path::new(&manifest_dir).join("Cargo.lock")).ok()?;
    let mut lines = lock.lines();
    lines.find(|l| *l == format!("name = \"{name}\""))?;
    let version = lines.next()?.strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_string())
}
