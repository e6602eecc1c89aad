//! From policy text to a validated [`Policy`], or to every diagnostic that explains why not.
//!
//! Order: syntax (the recovering TOML parser reports every syntax error; if there is one,
//! nothing else is checked, since a broken tree gives misleading follow-up errors), then each
//! section with its own checks, then the references between sections (zones, departments,
//! roles named elsewhere must exist).

mod access;
mod departments;
mod globals;
pub(crate) mod reader;
mod waf;

pub(crate) use reader::closest;

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use crate::diagnostic::Diagnostic;
use crate::model::{Policy, SCHEMA_VERSION};
use reader::{Decoder, Fields};

/// The largest policy file accepted: a real one is a few kilobytes.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

/// The deepest nesting of arrays and inline tables accepted (the real schema needs 4).
pub const MAX_NESTING: usize = 32;

/// What a name written in one section must refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReferenceKind {
    Zone,
    Department,
    Role,
}

/// A name used in one place that must be defined in another, with where it was written.
pub(crate) struct Reference {
    kind: ReferenceKind,
    name: String,
    span: Range<usize>,
    what: String,
}

/// State shared by the section decoders.
pub(crate) struct Context<'s> {
    pub(crate) decoder: Decoder<'s>,
    pub(crate) base_dir: PathBuf,
    references: Vec<Reference>,
}

impl Context<'_> {
    /// Remembers that `name` (written at `span`, in `what`) must be a defined `kind`.
    pub(crate) fn refer(
        &mut self,
        kind: ReferenceKind,
        name: &str,
        span: Range<usize>,
        what: &str,
    ) {
        self.references.push(Reference {
            kind,
            name: name.to_owned(),
            span,
            what: what.to_owned(),
        });
    }

    /// A path from the file, made absolute against the policy file's directory.
    pub(crate) fn resolve_path(&self, written: &str) -> PathBuf {
        let path = Path::new(written);
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// Decodes and validates `source`. On success, the warnings come with the policy; on failure,
/// every error and warning, in file order.
pub(crate) fn decode(
    source: &str,
    file: &str,
    base_dir: &Path,
) -> Result<(Policy, Vec<Diagnostic>), Vec<Diagnostic>> {
    if source.len() > MAX_POLICY_BYTES {
        return Err(vec![Diagnostic::for_file(
            file,
            format!(
                "the policy file is {} bytes, more than the {MAX_POLICY_BYTES} accepted",
                source.len()
            ),
            Some("a policy is a few kilobytes: check that this is the right file".to_owned()),
        )]);
    }
    let mut context = Context {
        decoder: Decoder::new(source, file),
        base_dir: base_dir.to_owned(),
        references: Vec::new(),
    };
    if let Some(at) = too_deep(source) {
        context.decoder.error(
            at..at + 1,
            format!("arrays and inline tables nest more than {MAX_NESTING} deep"),
            "the policy never needs more than a few levels: check the brackets",
        );
        return Err(context.decoder.diagnostics);
    }
    let (document, syntax_errors) = DeTable::parse_recoverable(source);
    for error in &syntax_errors {
        let span = error.span().unwrap_or(0..0);
        context.decoder.error(
            span,
            format!("TOML syntax: {}", error.message().trim_end()),
            "see https://toml.io for the syntax; strings need double quotes",
        );
    }
    if !syntax_errors.is_empty() {
        return Err(sorted(context.decoder.diagnostics));
    }
    let policy = decode_document(&mut context, &document);
    check_references(&mut context, &policy);
    let diagnostics = sorted(context.decoder.diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        Err(diagnostics)
    } else {
        Ok((policy, diagnostics))
    }
}

fn decode_document(context: &mut Context<'_>, document: &toml::Spanned<DeTable<'_>>) -> Policy {
    let mut root = Fields::root(document);
    let version = match root.take("version") {
        Some(value) => {
            let version = context
                .decoder
                .integer(value, "version", 0, i64::from(u32::MAX));
            if let Some(v) = version.filter(|v| *v != i64::from(SCHEMA_VERSION)) {
                context.decoder.error(
                    value.span(),
                    format!("policy schema version {v} is not supported by this wardgate"),
                    &format!("this wardgate reads version = {SCHEMA_VERSION}"),
                );
            }
            SCHEMA_VERSION
        }
        None => {
            context.decoder.error(
                0..0,
                "the policy has no schema version",
                &format!("add `version = {SCHEMA_VERSION}` as the first line"),
            );
            SCHEMA_VERSION
        }
    };
    let listen = globals::listen(context, root.take("listen"));
    let tls = globals::tls(context, root.take("tls"));
    let limits = globals::limits(context, root.take("limits"));
    let rate_limit = globals::rate_limit(context, root.take("rate_limit"));
    let upstream = globals::upstream(context, root.take("upstream"));
    let zones = departments::zones(context, root.take("zones"));
    let waf = waf::waf(context, root.take("waf"));
    let defaults = departments::Defaults {
        limits: limits.route_limits(),
        rate_limit,
        waf: crate::model::WafSettings {
            mode: waf.mode,
            paranoia: waf.paranoia,
        },
    };
    let departments = departments::departments(context, root.take("departments"), &defaults);
    let roles = access::roles(context, root.take("roles"));
    let operations = access::operations(context, root.take("operations"));
    let break_glass = access::break_glass(context, root.take("break_glass"));
    let step_up = access::step_up(context, root.take("step_up"));
    let trusted_issuers = access::trusted_issuers(context, root.take("trusted_issuers"));
    let audit = globals::audit(context, root.take("audit"));
    root.finish_with(
        &mut context.decoder,
        &[
            (
                "department",
                "departments are tables named [departments.NAME]",
            ),
            ("role", "roles are tables named [roles.NAME]"),
            ("zone", "zones are tables named [zones.NAME]"),
            ("rules", "custom rules are [[waf.rules]]"),
            ("exclusions", "WAF exclusions are [[waf.exclusions]]"),
        ],
    );
    Policy {
        version,
        listen,
        tls,
        limits,
        rate_limit,
        upstream,
        zones,
        departments,
        waf,
        roles,
        operations,
        break_glass,
        step_up,
        trusted_issuers,
        audit,
    }
}

fn check_references(context: &mut Context<'_>, policy: &Policy) {
    let references = std::mem::take(&mut context.references);
    for reference in references {
        let (defined, section): (Vec<&str>, &str) = match reference.kind {
            ReferenceKind::Zone => (policy.zones.keys().map(String::as_str).collect(), "zones"),
            ReferenceKind::Department => (
                policy.departments.keys().map(String::as_str).collect(),
                "departments",
            ),
            ReferenceKind::Role => (policy.roles.keys().map(String::as_str).collect(), "roles"),
        };
        if defined.contains(&reference.name.as_str()) {
            continue;
        }
        let kind = match reference.kind {
            ReferenceKind::Zone => "zone",
            ReferenceKind::Department => "department",
            ReferenceKind::Role => "role",
        };
        let help = match closest(&reference.name, &defined) {
            Some(s) => format!("did you mean `{s}`?"),
            None if defined.is_empty() => format!("define it as [{section}.{}]", reference.name),
            None => format!(
                "define [{section}.{}], or use one of: {}",
                reference.name,
                defined.join(", ")
            ),
        };
        context.decoder.error(
            reference.span,
            format!(
                "{} names {kind} `{}`, which is not defined",
                reference.what, reference.name
            ),
            &help,
        );
    }
}

fn sorted(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.sort_by_key(|d| (d.line, d.column));
    diagnostics
}

/// The byte offset where brackets and braces nest deeper than [`MAX_NESTING`], if they do.
/// Checked before parsing so a hostile file cannot make the parser recurse without bound.
fn too_deep(source: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string: Option<u8> = None;
    let mut in_comment = false;
    let bytes = source.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match (in_string, in_comment) {
            (_, true) => in_comment = b != b'\n',
            (Some(quote), false) => {
                if b == b'\\' && quote == b'"' {
                    i += 1;
                } else if b == quote {
                    in_string = None;
                }
            }
            (None, false) => match b {
                b'"' | b'\'' => in_string = Some(b),
                b'#' => in_comment = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some(i);
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        i += 1;
    }
    None
}
