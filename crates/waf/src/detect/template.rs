//! Server-side template injection and server-side includes.
//!
//! A template expression counts when its delimiters (`{{ }}`, `${ }`, `#{ }`, `*{ }`, `@{ }`,
//! `<%= %>`, `{% %}`, `[[ ]]`) hold what only an attacker writes there: arithmetic on numbers
//! (`{{7*7}}`, the probe), the object-graph walks of sandbox escapes (`__class__`, `__mro__`,
//! `.getClass()`, `T(java.lang.Runtime)`), or engine internals (`config`, `self`,
//! `_self.env`, `freemarker.template.utility.Execute`). Placeholders (`{{name}}`,
//! `{% $NUM_VIEWS|STRING_FORMAT %}`) pass.

use super::ascii::{find, find_ci_from};
use super::needles::Needles;
use super::{AttackClass, Finding};

/// Bytes of one expression examined.
const MAX_EXPR: usize = 512;
/// Expressions examined per delimiter and value.
const MAX_EXPRESSIONS: usize = 64;

fn push(
    findings: &mut Vec<Finding>,
    class: AttackClass,
    rule: &'static str,
    start: usize,
    end: usize,
) {
    findings.push(Finding {
        class,
        rule,
        score: 5,
        span: start..end.max(start),
    });
}

/// Judge one value for template injection and server-side includes.
pub(crate) fn detect(value: &str, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    if let Some((s, e)) = ssi(b) {
        return push(findings, AttackClass::Ssi, "ssi.directive", s, e);
    }
    static MARKERS: Needles = Needles::new(&[
        b"freemarker.template.utility",
        b"<#assign",
        b"?new()",
        b"#set($",
        b"#set ($",
        b"{php}",
        b"{/php}",
        b"$smarty.",
        b"smarty_internal",
        b"_self.env",
        b"getstreamvariable",
        b"$class.inspect",
        b"{{#with",
    ]);
    if let Some((marker, at)) = MARKERS.first_listed(b) {
        return push(
            findings,
            AttackClass::Ssti,
            "ssti.engine-internals",
            at,
            at + marker.len(),
        );
    }
    // The delimiters are punctuation: one pass finds which of them occur, and where first.
    static OPENS: Needles = Needles::new(&[
        b"{{", b"${", b"#{", b"*{", b"@{", b"<%=", b"<%", b"{%", b"[[", b"@(",
    ]);
    const CLOSES: [&[u8]; 10] = [
        b"}}", b"}", b"}", b"}", b"}", b"%>", b"%>", b"%}", b"]]", b")",
    ];
    let opens = OPENS.find_all(b);
    for (index, open, first) in opens.iter(&OPENS) {
        let close = CLOSES.get(index).copied().unwrap_or(b"}");
        let mut from = first;
        let mut seen = 0;
        while let Some(at) = b.get(from..).and_then(|s| find(s, open)) {
            seen += 1;
            if seen > MAX_EXPRESSIONS {
                break;
            }
            let start = from + at;
            from = start + open.len();
            let window = b.get(from..(from + MAX_EXPR).min(b.len())).unwrap_or(b"");
            let inner = match find(window, close) {
                Some(end) => window.get(..end).unwrap_or(b""),
                None => window,
            };
            if let Some(rule) = judge_expression(open, inner) {
                return push(findings, AttackClass::Ssti, rule, start, from + inner.len());
            }
        }
    }
}

/// Server-side include directives only (for clinical text, which a server-side include
/// processor would run before display).
pub(crate) fn ssi_only(value: &str, findings: &mut Vec<Finding>) {
    if let Some((s, e)) = ssi(value.as_bytes()) {
        push(findings, AttackClass::Ssi, "ssi.directive", s, e);
    }
}

/// `<!--#exec cmd="ls" -->` and the other SSI directives.
fn ssi(b: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(at) = find_ci_from(b, b"<!--#", from) {
        from = at + 5;
        let rest = b
            .get(from..(from + 16).min(b.len()))
            .unwrap_or(b"")
            .to_ascii_lowercase();
        let directives: [&[u8]; 10] = [
            b"exec",
            b"include",
            b"echo",
            b"config",
            b"set",
            b"printenv",
            b"fsize",
            b"flastmod",
            b"if",
            b"elif",
        ];
        if directives.iter().any(|d| rest.starts_with(d)) {
            return Some((at, from + 4));
        }
    }
    None
}

fn judge_expression(open: &[u8], inner: &[u8]) -> Option<&'static str> {
    let squeezed: Vec<u8> = inner
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(u8::to_ascii_lowercase)
        .collect();
    if squeezed.is_empty() {
        return None;
    }
    if arithmetic(&squeezed) {
        return Some("ssti.arithmetic-probe");
    }
    let escapes: [&[u8]; 14] = [
        b"__class__",
        b"__mro__",
        b"__subclasses__",
        b"__globals__",
        b"__builtins__",
        b"__init__",
        b"__import__",
        b"__base__",
        b"getclass()",
        b"t(java.",
        b"forname(",
        b".getruntime(",
        b"constructor.constructor",
        b"processbuilder",
    ];
    if escapes.iter().any(|e| find(&squeezed, e).is_some()) {
        return Some("ssti.sandbox-escape");
    }
    // Jinja / Twig / Django objects that expose the application.
    let internals: [&[u8]; 12] = [
        b"config.",
        b"config}",
        b"self.",
        b"request.application",
        b"lipsum.",
        b"cycler.",
        b"joiner.",
        b"namespace.",
        b"url_for.",
        b"get_flashed_messages",
        b"settings.secret",
        b"request.environ",
    ];
    if open == b"{{"
        && (internals
            .iter()
            .any(|e| squeezed.starts_with(e) || find(&squeezed, e).is_some())
            || squeezed == b"config")
    {
        return Some("ssti.engine-internals");
    }
    if open == b"{%" {
        let statements: [&[u8]; 6] = [b"import", b"debug", b"include", b"load", b"extends", b"set"];
        if statements.iter().any(|s| squeezed.starts_with(s)) && !squeezed.contains(&b'$') {
            return Some("ssti.statement");
        }
    }
    if open == b"<%=" || open == b"<%" {
        // ERB / JSP / ASP: any expression with a call or an operator is code.
        if squeezed
            .iter()
            .any(|b| matches!(b, b'(' | b'*' | b'+' | b'.' | b'`'))
        {
            return Some("ssti.expression");
        }
    }
    None
}

/// `7*7`, `1337*1338`, `16*8787`, `4+4`, `7*'7'`: numbers and operators only, with at least
/// one `*`, `+` or `-` between two numbers.
fn arithmetic(expr: &[u8]) -> bool {
    let cleaned: Vec<u8> = expr
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\'' | b'"' | b'(' | b')'))
        .collect();
    let mut numbers = 0;
    let mut ops = 0;
    let mut in_number = false;
    for b in &cleaned {
        match b {
            b'0'..=b'9' | b'.' => {
                if !in_number {
                    numbers += 1;
                    in_number = true;
                }
            }
            b'*' | b'+' | b'-' | b'/' | b'%' => {
                ops += 1;
                in_number = false;
            }
            _ => return false,
        }
    }
    numbers >= 2 && ops >= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(value: &str) -> Vec<AttackClass> {
        let mut f = Vec::new();
        detect(value, &mut f);
        f.iter().map(|f| f.class).collect()
    }

    #[test]
    fn template_injection_found() {
        for a in [
            "{{7*7}}",
            "${7*7}",
            "#{7*7}",
            "*{7*7}",
            "<%= 7*7 %>",
            "{{1337*1338}}",
            "aaaa'+#{16*8787}+'bbb",
            "{{''.__class__.__mro__[1].__subclasses__()}}",
            "{{[] .__ Class __.__ base __.__ subclasses __ ()}}",
            "${T(java.lang.Runtime).getRuntime().exec('id')}",
            "<#assign ex = \"freemarker.template.utility.Execute\"?new()>${ ex(\"id\")}",
            "{{config.items()}}",
            "{% import os %}",
            "#set($x = $class.inspect(\"java.lang.Runtime\"))",
            "{php}echo `id`;{/php}",
        ] {
            assert_eq!(classes(a), [AttackClass::Ssti], "missed: {a}");
        }
        assert_eq!(classes("<!--#exec cmd=\"ls\" -->"), [AttackClass::Ssi]);
    }

    #[test]
    fn placeholders_pass() {
        for b in [
            "{{name}}",
            "Dear {{patient.given}},",
            "{% $NUM_VIEWS|STRING_FORMAT:\"%D\" %} VUES",
            "{% $SENDER_FULL_NAME %} BLAH",
            "${HOME}",
            "<!-- comment -->",
            "cost ${total}",
            "dose 1-2 tabs",
            "[[Category]]",
        ] {
            assert!(classes(b).is_empty(), "false positive: {b}");
        }
    }
}
