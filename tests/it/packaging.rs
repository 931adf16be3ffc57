//! What an installation takes from the binary itself: completion
//! scripts and manual pages, made from the command-line definitions, and
//! made anywhere (no configuration, no source folder needed).

use std::path::Path;
use std::process::{Command, Output};

fn refeed(cwd: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_refeed"))
        .current_dir(cwd)
        .env("REFEED_FEED__LIMIT", "not a number, and not read")
        .args(args)
        .output()
        .expect("run refeed");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn completion_scripts_name_every_subcommand_and_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _refeed"),
        ("zsh", "#compdef refeed"),
        ("fish", "complete -c refeed"),
    ] {
        let out = refeed(dir.path(), &["completions", shell]);
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["serve", "build", "check", "completions", "source", "out"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
}

/// bash loads the script and then completes `refeed b` to `build`.
#[test]
fn the_bash_script_completes_in_bash() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("refeed.bash");
    std::fs::write(&script, refeed(dir.path(), &["completions", "bash"]).stdout).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(refeed b); COMP_CWORD=1; _refeed refeed b refeed; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "build\n");
}

#[test]
fn man_prints_refeed_1_and_writes_the_pages_it_refers_to() {
    let dir = tempfile::tempdir().unwrap();
    let page = String::from_utf8(refeed(dir.path(), &["man"]).stdout).unwrap();
    assert!(page.starts_with(".ie"), "{page}");
    assert!(page.contains(".TH refeed 1"), "{page}");
    for word in [
        "SUBCOMMANDS",
        "refeed\\-serve(1)",
        "\\-\\-source",
        "REFEED_SOURCE_DIR",
    ] {
        assert!(page.contains(word), "refeed(1) lacks {word}");
    }
    let pages = dir.path().join("man1");
    std::fs::create_dir(&pages).unwrap();
    refeed(dir.path(), &["man", pages.to_str().unwrap()]);
    let mut names: Vec<String> = std::fs::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "refeed-build.1",
            "refeed-check.1",
            "refeed-completions.1",
            "refeed-man.1",
            "refeed-serve.1",
            "refeed-stats.1",
            "refeed.1"
        ]
    );
    // Every page refeed(1) refers to is there, and refeed(1) is the page
    // `refeed man` prints.
    let references: Vec<String> = page
        .lines()
        .filter_map(|line| line.strip_suffix("(1)"))
        .filter(|name| name.starts_with("refeed") && !name.contains(' '))
        .map(|name| name.replace("\\-", "-"))
        .collect();
    assert_eq!(references.len(), 6, "{page}");
    for name in references {
        assert!(
            names.contains(&format!("{name}.1")),
            "refeed(1) refers to {name}(1)"
        );
    }
    assert_eq!(
        std::fs::read_to_string(pages.join("refeed.1")).unwrap(),
        page
    );
}
