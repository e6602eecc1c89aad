//! Each kind of mistake an operator makes in the policy file is reported at its line and
//! column, with what to write instead; and every mistake is reported, not only the first.

use std::path::Path;

use wardgate_policy::{Diagnostic, Policy, Severity};

/// A small valid policy; tests append their mistake to it.
const BASE: &str = r#"version = 1

[zones.clinical]
description = "Workstations"

[departments.emergency]
zones = ["clinical"]

[roles.nurse]
scopes = ["user/Patient.rs"]
departments = ["emergency"]
"#;

fn diagnostics(text: &str) -> Vec<Diagnostic> {
    match Policy::parse(text, Path::new("wardgate.toml")) {
        Ok(validated) => validated.warnings,
        Err(diagnostics) => diagnostics,
    }
}

fn errors(text: &str) -> Vec<Diagnostic> {
    diagnostics(text)
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect()
}

/// The one error `extra` (appended to the base policy) causes.
fn one_error(extra: &str) -> Diagnostic {
    let text = format!("{BASE}{extra}");
    let mut found = errors(&text);
    assert_eq!(found.len(), 1, "expected one error, got {found:#?}");
    found.remove(0)
}

/// Line (1-based) of the first line of `extra` within base + extra.
fn line_of(extra_line: usize) -> usize {
    BASE.lines().count() + extra_line
}

#[test]
fn the_base_policy_is_valid() {
    assert_eq!(errors(BASE), Vec::new());
}

#[test]
fn unknown_duration_unit_points_at_the_value_with_help() {
    let d = one_error("\n[limits]\nheader_read_timeout = \"10sec\"\n");
    assert_eq!((d.line, d.column), (line_of(3), 23));
    assert_eq!(
        d.message,
        "unknown duration unit \"sec\" in header_read_timeout"
    );
    assert_eq!(
        d.help.as_deref(),
        Some("write a number with s, ms, m or h, for example \"10s\"")
    );
    let rendered = d.render();
    assert!(
        rendered.starts_with(&format!(
            "wardgate.toml:{}:23: error: unknown duration unit",
            line_of(3)
        )),
        "{rendered}"
    );
    assert!(rendered.contains("header_read_timeout = \"10sec\"\n"));
    assert!(rendered.contains(&format!("{}^^^^^^^\n", " ".repeat(22))));
    assert!(rendered.ends_with("  help: write a number with s, ms, m or h, for example \"10s\"\n"));
}

#[test]
fn a_duration_without_unit_says_which_unit_to_add() {
    let d = one_error("\n[upstream]\nconnect_timeout = 2\n");
    assert_eq!((d.line, d.column), (line_of(3), 19));
    assert_eq!(d.message, "upstream.connect_timeout needs a unit");
    assert!(d.help.unwrap().contains("connect_timeout = \"2s\""));
}

#[test]
fn a_size_with_an_unknown_unit_lists_the_units() {
    let d = one_error("\n[limits]\nmax_body_bytes = \"10 MB/s\"\n");
    assert_eq!(d.line, line_of(3));
    assert_eq!(d.message, "unknown size unit \"MB/s\" in max_body_bytes");
    assert!(d.help.unwrap().contains("KiB, MiB or GiB"));
}

#[test]
fn unknown_keys_get_a_did_you_mean() {
    let d = one_error("\n[limits]\nmax_body_byte = \"1 MiB\"\n");
    assert_eq!((d.line, d.column), (line_of(3), 1));
    assert_eq!(d.message, "unknown key `max_body_byte` in [limits]");
    assert_eq!(d.help.as_deref(), Some("did you mean `max_body_bytes`?"));

    let d = one_error("\n[wafs]\nmode = \"block\"\n");
    assert_eq!(d.message, "unknown key `wafs` at the top level");
    assert_eq!(d.help.as_deref(), Some("did you mean `waf`?"));
}

#[test]
fn a_connection_limit_in_a_department_says_where_it_belongs() {
    let d = one_error("\n[departments.emergency.limits]\nmax_header_bytes = \"32 KiB\"\n");
    assert_eq!(d.line, line_of(3));
    assert_eq!(
        d.message,
        "unknown key `max_header_bytes` in [departments.emergency.limits]"
    );
    assert!(d.help.unwrap().contains("set it in [limits]"));
}

#[test]
fn prefixes_follow_the_url_contract() {
    let text = BASE.replace(
        "[departments.emergency]\n",
        "[departments.emergency]\nprefix = \"/er/\"\n",
    );
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].line, found[0].column), (7, 10));
    assert_eq!(
        found[0].message,
        "prefix \"/er/\" does not match the department name `emergency`"
    );
    assert!(
        found[0]
            .help
            .as_deref()
            .unwrap()
            .contains("prefix = \"/emergency/\"")
    );

    let text = BASE.replace(
        "[departments.emergency]\n",
        "[departments.emergency]\nprefix = \"/emergency\"\n",
    );
    let found = errors(&text);
    assert_eq!(
        found[0].message,
        "prefix \"/emergency\" must start and end with \"/\""
    );
}

#[test]
fn department_names_must_be_url_segments_and_not_reserved() {
    let d = one_error("\n[departments.auth]\n");
    assert_eq!(d.line, line_of(2));
    assert!(d.message.contains("reserved"), "{}", d.message);
    let d = one_error("\n[departments.Lab]\n");
    assert!(
        d.message.contains("cannot be a URL path segment"),
        "{}",
        d.message
    );
}

#[test]
fn resource_types_are_fhir_types_or_others_once() {
    let d = one_error("\n[departments.pharmacy]\nresource_types = [\"Medicaton\"]\n");
    assert_eq!((d.line, d.column), (line_of(3), 19));
    assert_eq!(
        d.message,
        "unknown FHIR resource type `Medicaton` in departments.pharmacy.resource_types"
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `Medication`?"));

    let d = one_error(
        "\n[departments.record]\nresource_types = [\"others\"]\n\
         [departments.pharmacy]\nresource_types = [\"Medication\", \"others\"]\n",
    );
    assert_eq!((d.line, d.column), (line_of(5), 33));
    assert_eq!(
        d.message,
        "department `pharmacy` also serves the `others` resource types, which `record` already serves"
    );
}

#[test]
fn others_gives_every_unlisted_type_a_home() {
    let text = format!(
        "{BASE}\n[departments.record]\nresource_types = [\"Patient\", \"others\"]\n\
         [departments.pharmacy]\nresource_types = [\"Medication\"]\n"
    );
    let policy = Policy::parse(&text, Path::new("wardgate.toml"))
        .unwrap()
        .policy;
    let record = policy.departments["record"].resource_types.clone().unwrap();
    assert!(
        !record.iter().any(|t| t == "others"),
        "the word is replaced"
    );
    assert!(record.iter().any(|t| t == "Claim"));
    assert!(record.iter().any(|t| t == "Patient"));
    assert!(
        !record.iter().any(|t| t == "Medication"),
        "pharmacy lists it"
    );
    // emergency lists no types: it serves every type, and takes none from the others.
    assert_eq!(policy.departments["emergency"].resource_types, None);
}

#[test]
fn upstreams_must_be_builtin_or_http() {
    let d = one_error("\n[departments.radiology]\nupstream = \"ftp://pacs.local\"\n");
    assert_eq!((d.line, d.column), (line_of(3), 12));
    assert_eq!(
        d.message,
        "upstream \"ftp://pacs.local\" has a scheme other than http or https"
    );
    assert!(d.help.unwrap().contains("\"builtin\""));
}

#[test]
fn referenced_zones_departments_and_roles_must_exist() {
    let d = one_error("\n[departments.radiology]\nzones = [\"clinicl\"]\n");
    assert_eq!((d.line, d.column), (line_of(3), 10));
    assert_eq!(
        d.message,
        "departments.radiology.zones names zone `clinicl`, which is not defined"
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `clinical`?"));

    let d = one_error("\n[roles.clerk]\ndepartments = [\"emergncy\", \"emergency\"]\n");
    assert_eq!((d.line, d.column), (line_of(3), 16));
    assert_eq!(d.help.as_deref(), Some("did you mean `emergency`?"));

    let d = one_error("\n[operations.everything]\nroles = [\"surgeon\"]\n");
    assert_eq!(
        d.message,
        "operations.everything.roles names role `surgeon`, which is not defined"
    );
}

#[test]
fn scopes_follow_the_smart_v2_grammar() {
    let d = one_error("\n[roles.porter]\nscopes = [\"user/Patient.rs\", \"user/Patient.read\"]\n");
    assert_eq!((d.line, d.column), (line_of(3), 30));
    assert!(
        d.message.starts_with("SMART v1 permission \"read\""),
        "{}",
        d.message
    );
    assert!(d.help.unwrap().contains("\".rs\""));

    let d = one_error("\n[roles.porter]\nscopes = [\"user/Patiant.rs\"]\n");
    assert!(d.help.unwrap().contains("`Patient`"));

    let d = one_error("\n[roles.porter]\nscopes = [\"user/Patient.sr\"]\n");
    assert!(d.message.contains("not an in-order subset"));
}

#[test]
fn limits_must_be_within_sane_bounds() {
    let d = one_error("\n[limits]\nmax_header_bytes = \"100 B\"\n");
    assert_eq!(d.message, "limits.max_header_bytes is out of range");
    assert_eq!(d.help.as_deref(), Some("write a size from 1 KiB to 1 MiB"));

    let d = one_error("\n[limits]\nh2_max_concurrent_streams = 0\n");
    assert_eq!(
        d.help.as_deref(),
        Some("write a whole number from 1 to 10000")
    );

    let d = one_error("\n[rate_limit]\nburst = -5\n");
    assert_eq!(d.message, "rate_limit.burst is out of range");
}

#[test]
fn listen_addresses_must_parse() {
    let d = one_error("\n[listen]\npublic = \"localhost:8443\"\n");
    assert_eq!((d.line, d.column), (line_of(3), 10));
    assert!(d.help.unwrap().contains("\"127.0.0.1:8443\""));
    let d = one_error("\n[listen]\npublic = \"127.0.0.1:9443\"\n");
    assert_eq!(
        d.message,
        "listen.admin is the same address as listen.public"
    );
}

#[test]
fn waf_mode_and_paranoia_must_be_valid() {
    let text = format!("{BASE}\n[waf]\nmode = \"deny\"\nparanoia = 5\n");
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].message, "unknown WAF mode \"deny\"");
    assert_eq!(found[0].line, line_of(3));
    assert_eq!(found[1].message, "waf.paranoia is out of range");
    assert_eq!(found[1].line, line_of(4));
}

#[test]
fn custom_rule_ids_are_unique_and_patterns_compile() {
    let text = format!(
        "{BASE}\n[[waf.rules]]\nid = \"vp-1\"\npath_prefix = \"/a\"\naction = \"block\"\n\
         \n[[waf.rules]]\nid = \"vp-1\"\nlocation = \"query\"\npattern = \"(unclosed\"\naction = \"log\"\n"
    );
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].line, line_of(8));
    assert_eq!(found[0].message, "custom rule id `vp-1` is used twice");
    assert_eq!(found[1].line, line_of(10));
    assert!(
        found[1]
            .message
            .starts_with("pattern is not a valid regular expression")
    );
}

#[test]
fn exclusions_name_a_known_detector_and_location() {
    let text = format!(
        "{BASE}\n[[waf.exclusions]]\ndepartment = \"emergency\"\npath_prefix = \"/emergency/fhir\"\n\
         location = \"body.data\"\ndetectors = [\"sqlinjection\", \"xss\"]\n"
    );
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].line, line_of(5));
    assert!(found[0].message.contains("is not a place in a request"));
    assert_eq!(found[1].message, "unknown detector \"sqlinjection\"");
}

#[test]
fn tls_files_must_exist_and_come_in_pairs() {
    let text = format!("{BASE}\n[tls]\ncertificate = \"no-such-server.pem\"\n");
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].message.contains("file not found"));
    assert!(found[0].message.contains("no-such-server.pem"));
    assert_eq!(
        found[1].message,
        "tls.certificate is set but tls.private_key is not"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("server.pem"), "x").unwrap();
    std::fs::write(dir.path().join("server-key.pem"), "x").unwrap();
    let text =
        format!("{BASE}\n[tls]\ncertificate = \"server.pem\"\nprivate_key = \"server-key.pem\"\n");
    let validated = Policy::parse(&text, &dir.path().join("wardgate.toml")).unwrap();
    assert_eq!(
        validated.policy.tls.certificate.as_deref(),
        Some(dir.path().join("server.pem").as_path()),
        "relative TLS paths start at the policy file's folder"
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    let d = one_error("\n[tls]\nmin_version = 1.2\n");
    assert_eq!(
        d.message,
        "expected a string for tls.min_version, found a float"
    );
    assert_eq!(
        d.help.as_deref(),
        Some("write, for example, min_version = \"...\"")
    );
}

#[test]
fn the_schema_version_is_required() {
    let text = BASE.replace("version = 1\n", "");
    let found = errors(&text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].message, "the policy has no schema version");
    assert_eq!(found[0].line, 1);
    let d = errors(&BASE.replace("version = 1", "version = 2"));
    assert!(d[0].message.contains("version 2 is not supported"));
}

#[test]
fn syntax_errors_are_all_reported_with_their_position() {
    let text = "version = 1\n[limits]\nmax_body_bytes = 10 MiB\n[departments.x\n";
    let found = errors(text);
    assert!(found.len() >= 2, "{found:#?}");
    assert_eq!(found[0].line, 3);
    assert!(found[0].message.starts_with("TOML syntax:"));
    assert!(found.iter().any(|d| d.line == 4), "{found:#?}");
}

#[test]
fn every_error_is_reported_in_file_order() {
    let text = format!(
        "{BASE}\n[limits]\nheader_read_timeout = \"10sec\"\nmax_body_byte = \"1 MiB\"\n\
         \n[departments.radiology]\nupstream = \"ftp://x\"\nzones = [\"nowhere\"]\n\
         \n[roles.porter]\nscopes = [\"user/Patient.write\"]\n"
    );
    let found = errors(&text);
    let lines: Vec<usize> = found.iter().map(|d| d.line).collect();
    assert_eq!(
        lines,
        [line_of(3), line_of(4), line_of(7), line_of(8), line_of(11)],
        "{found:#?}"
    );
}

#[test]
fn warnings_do_not_refuse_the_policy() {
    let text = format!("{BASE}\n[listen]\nadmin = \"0.0.0.0:9443\"\n");
    let validated = Policy::parse(&text, Path::new("wardgate.toml")).unwrap();
    assert_eq!(validated.warnings.len(), 1);
    assert_eq!(validated.warnings[0].severity, Severity::Warning);
    assert!(
        validated.warnings[0]
            .message
            .contains("reachable from the network")
    );
}

#[test]
fn oversized_and_deeply_nested_files_are_refused_before_parsing() {
    let deep = format!(
        "version = 1\nx = {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let found = errors(&deep);
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("nest more than"));
    let huge = format!("version = 1\n{}", "# padding\n".repeat(200_000));
    let found = errors(&huge);
    assert!(found[0].message.contains("more than the 1048576 accepted"));
}

#[test]
fn routes_stay_inside_their_department_and_do_not_repeat() {
    let text = format!(
        "{BASE}\n[[departments.emergency.routes]]\npath = \"/radiology/fhir\"\n\
         \n[[departments.emergency.routes]]\npath = \"/emergency/fhir\"\nmethods = [\"POST\", \"get\"]\n\
         \n[[departments.emergency.routes]]\npath = \"/emergency/fhir\"\nmethods = [\"POST\"]\n"
    );
    let found = errors(&text);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(found[0].line, line_of(3));
    assert!(found[0].message.contains("outside its department's prefix"));
    assert_eq!(found[1].line, line_of(7));
    assert_eq!(
        found[1].help.as_deref(),
        Some("methods are upper case: write \"GET\"")
    );
    assert_eq!(found[2].line, line_of(9));
    assert_eq!(
        found[2].message,
        "a second route for \"/emergency/fhir\" with the same methods"
    );
}
