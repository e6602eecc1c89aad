//! `wardgate check` as an operator runs it: a real child process, real files, exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Writes `text` to `name` in `dir`.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn wardgate(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wardgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("WARDGATE_CONFIG")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_default_policy_passes() {
    let scratch = tempfile::tempdir().unwrap();
    write(
        scratch.path(),
        "wardgate.toml",
        wardgate_policy::DEFAULT_POLICY,
    );
    let output = wardgate(&["check"], scratch.path());
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(
        stdout(&output),
        "wardgate.toml: policy is valid (0 warnings)\n"
    );
}

#[test]
fn every_error_is_printed_with_its_place_and_help_and_the_exit_code_is_1() {
    let scratch = tempfile::tempdir().unwrap();
    let path = write(
        scratch.path(),
        "hospital.toml",
        "version = 1\n\
         [limits]\n\
         header_read_timeout = \"10sec\"\n\
         [departments.emergency]\n\
         zones = [\"clinicl\"]\n\
         [zones.clinical]\n",
    );
    let output = wardgate(
        &["check", "--config", path.to_str().unwrap()],
        scratch.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let file = path.display().to_string();
    assert!(
        text.contains(&format!(
            "{file}:3:23: error: unknown duration unit \"sec\" in header_read_timeout\n  |\n3 | header_read_timeout = \"10sec\"\n  |                       ^^^^^^^\n  help: write a number with s, ms, m or h, for example \"10s\"\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{file}:5:10: error: departments.emergency.zones names zone `clinicl`"
        )),
        "{text}"
    );
    assert!(text.contains("  help: did you mean `clinical`?"), "{text}");
    assert!(
        text.ends_with(&format!("{file}: policy refused: 2 errors, 0 warnings\n")),
        "{text}"
    );
}

#[test]
fn the_config_comes_from_the_environment_when_not_given() {
    let scratch = tempfile::tempdir().unwrap();
    let path = write(
        scratch.path(),
        "elsewhere.toml",
        "version = 1\n[departments.emergency]\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_wardgate"))
        .arg("check")
        .current_dir(scratch.path())
        .env("WARDGATE_CONFIG", &path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("elsewhere.toml: policy is valid"));
}

#[test]
fn a_missing_file_is_an_error_that_says_what_to_do() {
    let scratch = tempfile::tempdir().unwrap();
    let output = wardgate(&["check"], scratch.path());
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.starts_with("wardgate.toml: error: cannot read the policy file"),
        "{text}"
    );
    assert!(
        text.contains("help: check the path, or run `wardgate serve` once"),
        "{text}"
    );
}

#[test]
fn warnings_are_printed_but_do_not_fail_and_effective_shows_the_json() {
    let scratch = tempfile::tempdir().unwrap();
    write(
        scratch.path(),
        "wardgate.toml",
        "version = 1\n[listen]\nadmin = \"0.0.0.0:9443\"\n[departments.emergency]\n",
    );
    let output = wardgate(&["check", "--effective"], scratch.path());
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(
        text.starts_with("wardgate.toml:3:9: warning: the admin listener 0.0.0.0:9443"),
        "{text}"
    );
    assert!(text.contains("\"max_header_bytes\": \"16 KiB\""), "{text}");
    assert!(text.contains("\"prefix\": \"/emergency/\""), "{text}");
    assert!(
        text.ends_with("wardgate.toml: policy is valid (1 warning)\n"),
        "{text}"
    );
}
