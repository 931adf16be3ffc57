//! What `refeed` prints when its configuration cannot be used, as a
//! person running it from a shell sees it: one line that names where the
//! value came from, the key and what was expected.

use std::path::Path;
use std::process::{Command, Output};

use crate::common;

/// `refeed <args>` in `cwd`, with `env` and no other `REFEED_*`.
fn refeed(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refeed"));
    for (key, _) in std::env::vars() {
        if key.starts_with("REFEED_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(cwd)
        .env_remove("PWD")
        .envs(env.iter().copied());
    cmd.args(args).output().expect("run refeed")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bad_value_in_the_file_is_named_once_with_its_line() {
    let dir = common::tree(&[("refeed.yaml", "title: t\nfeed:\n  limit: abc\n")]);
    let out = refeed(dir.path(), &[], &["--config", "refeed.yaml", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "refeed: refeed.yaml, line 3: `feed.limit`: \
         expected a whole number (0 or more), found string \"abc\"\n"
    );
}

#[test]
fn a_bad_variable_or_flag_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = refeed(dir.path(), &[("REFEED_FEED__LIMIT", "abc")], &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "refeed: environment variable REFEED_FEED__LIMIT: `feed.limit`: \
         expected a whole number (0 or more), found string \"abc\"\n"
    );
    let out = refeed(dir.path(), &[], &["serve", "--listen", "localhost"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "refeed: flag --listen: `server.listen`: `localhost`: \
         invalid socket address syntax (expected IP:PORT)\n"
    );
}

#[test]
fn a_typo_is_warned_about_and_the_run_goes_on() {
    let dir = common::tree(&[("refeed.yaml", "feed:\n  limt: 5\ntheme: landscape\n")]);
    let examples = common::examples();
    let args = [
        "--config",
        "refeed.yaml",
        "--source",
        examples.to_str().unwrap(),
        "check",
    ];
    let out = refeed(dir.path(), &[], &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains(
            "refeed.yaml, line 2: unknown key `feed.limt` is ignored; did you mean `feed.limit`?"
        ),
        "{text}"
    );
    assert!(!text.contains("theme"), "{text}");
}

#[test]
fn a_missing_source_folder_says_where_it_was_looked_for_and_how_to_set_it() {
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path().canonicalize().unwrap();
    for command in ["serve", "build", "check"] {
        let mut args = vec![command];
        if command == "build" {
            args.extend(["--out", "out"]);
        }
        let out = refeed(&here, &[], &args);
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert_eq!(
            stderr(&out),
            format!(
                "refeed: source folder {} does not exist (`source_dir` from the built-in \
                 default); set it with --source DIR, `source_dir: DIR` in the --config file \
                 or REFEED_SOURCE_DIR=DIR\n",
                here.join("examples/posts").display()
            ),
            "{command}"
        );
    }
    let out = refeed(
        &here,
        &[("REFEED_SOURCE_DIR", "/nonexistent/posts")],
        &["check"],
    );
    assert!(
        stderr(&out).contains(
            "source folder /nonexistent/posts does not exist \
             (`source_dir` from environment variable REFEED_SOURCE_DIR)"
        ),
        "{}",
        stderr(&out)
    );
}

/// A port already taken ends `serve` before it reads one post (found by
/// the third attack: it loaded the whole archive first), naming the key.
#[test]
fn a_taken_port_ends_serve_before_it_loads_anything() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = common::tree(&[("post.md", "---\ntitle: t\n---\nbody\n")]);
    let state = tempfile::tempdir().unwrap();
    let env = [("REFEED_STATE_DIR", state.path().to_str().unwrap())];
    let out = refeed(
        dir.path(),
        &env,
        &[
            "--source", ".", "--log", "debug", "serve", "--listen", &addr,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("server.listen {addr}")), "{err}");
    assert!(!err.contains("files loaded"), "{err}");
}
