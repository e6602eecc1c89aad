//! Code injection: calls that run commands or code in the languages servers are written in
//! (PHP, Python, Node.js, Ruby, Java, ASP), PHP tags and superglobals, and the deserialisation
//! markers that reach them (`!!python/object`). A call counts only with a code-like first
//! argument (a quote, a variable, a backtick, a nested call) or none, so "immune system (CNS)"
//! is prose.

use crate::detect::ascii::{is_ident_byte, lower_bytes_into};
use crate::detect::needles::{Found, Needles};

/// A code-injection finding: rule, byte range.
pub(crate) type Hit = (&'static str, usize, usize);

fn runs_code(name: &[u8]) -> bool {
    matches!(
        name,
        b"system"
            | b"exec"
            | b"shell_exec"
            | b"passthru"
            | b"popen"
            | b"proc_open"
            | b"pcntl_exec"
            | b"eval"
            | b"assert"
            | b"create_function"
            | b"call_user_func"
            | b"call_user_func_array"
            | b"include"
            | b"include_once"
            | b"require"
            | b"require_once"
            | b"phpinfo"
            | b"phpversion"
            | b"file_get_contents"
            | b"file_put_contents"
            | b"readfile"
            | b"highlight_file"
            | b"show_source"
            | b"fopen"
            | b"__import__"
            | b"execfile"
            | b"compile"
            | b"execsync"
            | b"spawnsync"
            | b"spawn"
            | b"execfilesync"
            | b"getruntime"
            | b"processbuilder"
            | b"forname"
            | b"createobject"
            | b"executeglobal"
            | b"instance_eval"
            | b"class_eval"
            | b"module_eval"
            | b"unserialize"
            | b"print_r"
            | b"var_dump"
            | b"getenv"
            | b"putenv"
            | b"dechex"
            | b"hexdec"
    )
}

/// Calls that run nothing by themselves, allowed as the argument of a code call.
fn empty_call_ok(name: &[u8]) -> bool {
    matches!(
        name,
        b"phpinfo" | b"phpversion" | b"getruntime" | b"processbuilder" | b"getenv"
    )
}

/// Markers of code, then PHP superglobals (the first listed that occurs is reported), then
/// the device files of reverse shells ([`SOCKETS`] on): one pass over a value finds them all.
pub(crate) static MARKERS: Needles = Needles::new(&[
    b"<?php",
    b"<?=",
    b"!!python/",
    b"child_process",
    b"process.mainmodule",
    b"java.lang.runtime",
    b"wscript.shell",
    b"${@",
    b"{${",
    b"use socket;",
    b"$_get[",
    b"$_post[",
    b"$_request[",
    b"$_cookie[",
    b"$_server[",
    b"$_files[",
    b"$_env[",
    b"$globals[",
    b"/dev/tcp/",
    b"/dev/udp/",
]);

/// The index in [`MARKERS`] of the first reverse-shell device file.
pub(crate) const SOCKETS: usize = 18;

/// Find code injection in `text`, whose [`MARKERS`] are `markers`.
pub(crate) fn detect(text: &[u8], markers: &Found<'_>) -> Option<Hit> {
    const RULES: [&str; 10] = [
        "rce.php-code",
        "rce.php-code",
        "rce.deserialisation",
        "rce.node-code",
        "rce.node-code",
        "rce.java-code",
        "rce.asp-code",
        "rce.php-code",
        "rce.php-code",
        "rce.perl-code",
    ];
    if let Some((index, marker, at)) = markers.iter(&MARKERS).next().filter(|m| m.0 < SOCKETS) {
        let rule = RULES.get(index).copied().unwrap_or("rce.php-code");
        return Some((rule, at, at + marker.len()));
    }
    calls(text)
}

fn calls(text: &[u8]) -> Option<Hit> {
    let mut from = 0;
    while let Some(rel) = text.get(from..).and_then(|s| memchr::memchr(b'(', s)) {
        let paren = from + rel;
        from = paren + 1;
        // The name before `(` (spaces allowed between).
        let mut end = paren;
        while end > 0 && text.get(end - 1).is_some_and(|b| *b == b' ' || *b == b'\t') {
            end -= 1;
        }
        let mut start = end;
        while start > 0
            && text.get(start - 1).copied().is_some_and(is_ident_byte)
            && end - start < 32
        {
            start -= 1;
        }
        if start == end {
            continue;
        }
        let mut buf = [0u8; 32];
        let Some(name) = text
            .get(start..end)
            .and_then(|n| lower_bytes_into(n, &mut buf))
        else {
            continue;
        };
        if !runs_code(name) {
            continue;
        }
        let arg_at = crate::detect::ascii::skip_space(text, paren + 1);
        let arg = text.get(arg_at).copied();
        let nested = text.get(arg_at..).is_some_and(|rest| {
            let n = rest.iter().take_while(|b| is_ident_byte(**b)).count();
            n > 0 && rest.get(n) == Some(&b'(')
        });
        let code_arg = matches!(arg, Some(b'\'' | b'"' | b'`' | b'$'))
            || nested
            || arg == Some(b')') && empty_call_ok(name);
        if code_arg {
            return Some(("rce.code-call", start, paren + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_injection_found() {
        for a in [
            "; system('id');",
            "<?php system(\"sleep 10\");?>",
            "${@print(md5(31337))}",
            "{${phpinfo()}}",
            "phpinfo()",
            ";{$_GET[\"cmd\"]}",
            "__import__('os').system('id')",
            "require('child_process').exec('id')",
            "!!python/object/new:exec [import socket]",
            "eval(atob('YWxlcnQoMSk='))",
            "exec('sleep 5');",
            "{${sleep(hexdec(dechex(20)))}}",
        ] {
            let markers = MARKERS.find_all(a.as_bytes());
            assert!(detect(a.as_bytes(), &markers).is_some(), "missed: {a}");
        }
        for b in [
            "immune system (CNS) review",
            "include (optional) notes",
            "the exec (noun)",
            "eval (of 3 scales)",
        ] {
            let markers = MARKERS.find_all(b.as_bytes());
            assert!(
                detect(b.as_bytes(), &markers).is_none(),
                "false positive: {b}"
            );
        }
    }
}
