//! What command names mean to an attacker.

/// How telling a command name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Telling {
    /// An ordinary word too (`cat`, `type`, `set`, `echo`): needs shell-like arguments or a
    /// separator before it.
    Common,
    /// A tool name that is not an English word (`whoami`, `wget`, `netsh`): telling after any
    /// separator.
    Tool,
    /// Telling even as the whole value (`whoami`, `ipconfig`, `systeminfo`).
    Unique,
}

/// The command a word names: its base name without directory or `.exe`, classified.
pub(crate) fn command(word: &str) -> Option<Telling> {
    base_command(base_name(word).as_bytes())
}

/// [`command`] of a base name (a word without its directory), as bytes.
pub(crate) fn base_command(base: &[u8]) -> Option<Telling> {
    // Every name below starts with a lower-case letter: a base that does not (a version such
    // as `537.36`, an option, a path's empty base) is none of them.
    if !base.first().is_some_and(u8::is_ascii_lowercase) {
        return None;
    }
    let base = base.strip_suffix(b".exe").unwrap_or(base);
    // Matched as bytes: a decision tree on length and bytes, not a string comparison per name.
    Some(match base {
        b"whoami" | b"ifconfig" | b"ipconfig" | b"systeminfo" | b"uname" | b"netstat"
        | b"phpinfo" | b"tasklist" | b"getent" | b"nslookup" | b"sysinfo" | b"hostnamectl" => {
            Telling::Unique
        }
        b"wget" | b"curl" | b"nc" | b"ncat" | b"netcat" | b"bash" | b"sh" | b"zsh" | b"ksh"
        | b"csh" | b"tcsh" | b"dash" | b"powershell" | b"pwsh" | b"cmd" | b"certutil"
        | b"bitsadmin" | b"wmic" | b"netsh" | b"telnet" | b"socat" | b"busybox" | b"mkfifo"
        | b"taskkill" | b"python" | b"python2" | b"python3" | b"perl" | b"ruby" | b"php"
        | b"lua" | b"node" | b"nodejs" | b"chmod" | b"chown" | b"crontab" | b"nohup" | b"xterm"
        | b"regsvr32" | b"rundll32" | b"mshta" | b"cscript" | b"wscript" | b"schtasks"
        | b"icacls" | b"cacls" | b"findstr" | b"lsof" | b"tftp" | b"ssh" | b"scp" | b"sftp"
        | b"base64" | b"xxd" | b"hexdump" | b"pkill" | b"killall" | b"useradd" | b"usermod"
        | b"passwd" | b"sudo" | b"ping" | b"sleep" | b"printenv" | b"whereis" | b"ifup"
        | b"iptables" | b"msfvenom" | b"gawk" | b"awk" | b"sed" | b"dig" | b"traceroute"
        | b"tracert" | b"route" | b"arp" | b"openssl" | b"ls" | b"pwd" | b"id" | b"env"
        | b"rmdir" | b"mkdir" | b"uptime" | b"hostname" | b"dir" | b"ver" | b"reg" | b"net"
        | b"sc" | b"attrib" | b"systemctl" | b"tar" | b"unzip" | b"gzip" => Telling::Tool,
        b"cat" | b"type" | b"echo" | b"set" | b"which" | b"find" | b"grep" | b"head" | b"tail"
        | b"more" | b"less" | b"nl" | b"tac" | b"rm" | b"cp" | b"mv" | b"touch" | b"ln"
        | b"kill" | b"ps" | b"w" | b"who" | b"last" | b"df" | b"du" | b"free" | b"mount"
        | b"host" | b"ip" | b"zip" | b"dd" | b"strings" | b"file" | b"stat" | b"su" | b"eval"
        | b"exec" | b"source" | b"export" | b"alias" | b"history" | b"start" | b"del" | b"copy"
        | b"move" | b"ren" | b"timeout" | b"printf" | b"time" | b"test" | b"read" | b"wc"
        | b"sort" | b"cut" | b"od" | b"xargs" | b"tee" => Telling::Common,
        _ => return None,
    })
}

/// What follows the last `/` or `\\` of a word (all of it when it has neither).
pub(crate) fn base_name(word: &str) -> &str {
    word.bytes()
        .rposition(|b| b == b'/' || b == b'\\')
        .map_or(word, |sep| word.get(sep + 1..).unwrap_or(""))
}

/// Commands whose numeric argument is the point (`sleep 5`, `ping -n 30`, `timeout 10`).
pub(crate) fn takes_number(word: &str) -> bool {
    matches!(
        word,
        "sleep" | "ping" | "timeout" | "usleep" | "kill" | "exit"
    )
}

/// Commands whose argument names another command (`which nc`, `type wget`).
pub(crate) fn takes_command(word: &str) -> bool {
    matches!(
        word,
        "which" | "whereis" | "type" | "command" | "man" | "where"
    )
}

/// Sub-commands of Windows `net` (`net user x /add`, `net view`).
pub(crate) fn net_subcommand(word: &str) -> bool {
    matches!(
        word,
        "user"
            | "users"
            | "view"
            | "localgroup"
            | "group"
            | "share"
            | "use"
            | "start"
            | "stop"
            | "session"
            | "accounts"
            | "config"
    )
}

/// Paths the glob rule expands against: `/???/c?t` is `/bin/cat`.
pub(crate) const GLOB_TARGETS: &[&str] = &[
    "/bin/cat",
    "/bin/ls",
    "/bin/sh",
    "/bin/bash",
    "/bin/nc",
    "/bin/echo",
    "/bin/id",
    "/usr/bin/id",
    "/usr/bin/whoami",
    "/usr/bin/wget",
    "/usr/bin/curl",
    "/usr/bin/nc",
    "/usr/bin/python",
    "/usr/bin/perl",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/hosts",
    "/usr/bin/cat",
    "/bin/uname",
    "/usr/bin/uname",
];

/// Whether the glob `pattern` (`?` any byte, `*` any run, `[..]` one of a set) matches `text`.
/// Iterative with one backtrack point for `*`: linear in practice, quadratic at worst on
/// these short strings.
pub(crate) fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(b'?') => {
                p += 1;
                t += 1;
            }
            Some(b'[') => {
                let close = pattern.get(p..).and_then(|s| memchr::memchr(b']', s));
                let set = close.and_then(|c| pattern.get(p + 1..p + c)).unwrap_or(b"");
                if close.is_some() && text.get(t).is_some_and(|c| set.contains(c)) {
                    p += close.unwrap_or(0) + 1;
                    t += 1;
                } else if let Some((sp, st)) = star {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                } else {
                    return false;
                }
            }
            Some(c) if text.get(t) == Some(c) => {
                p += 1;
                t += 1;
            }
            _ => {
                let Some((sp, st)) = star else {
                    return false;
                };
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|c| *c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_that_start_with_a_letter_are_commands() {
        assert_eq!(base_command(b"wget"), Some(Telling::Tool));
        assert_eq!(base_command(b"wget.exe"), Some(Telling::Tool));
        assert_eq!(base_command(b"w"), Some(Telling::Common));
        for not_a_command in [
            &b"537.36"[..],
            b"5",
            b".exe",
            b"-wget",
            b"_id",
            b"",
            b"@whoami",
        ] {
            assert_eq!(base_command(not_a_command), None, "{not_a_command:?}");
        }
    }

    #[test]
    fn commands_and_globs() {
        assert_eq!(command("/usr/bin/whoami"), Some(Telling::Unique));
        assert_eq!(command("cmd.exe"), Some(Telling::Tool));
        assert_eq!(command("cat"), Some(Telling::Common));
        assert_eq!(command("patient"), None);
        assert!(glob_matches(b"/???/c?t", b"/bin/cat"));
        assert!(glob_matches(b"/???/b??/w*", b"/usr/bin/whoami"));
        assert!(glob_matches(b"/e[t]c/pas*", b"/etc/passwd"));
        assert!(!glob_matches(b"/???/c?t", b"/bin/ls"));
    }
}
