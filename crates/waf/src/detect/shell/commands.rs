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
    let base = word.rsplit(['/', '\\']).next().unwrap_or(word);
    let base = base.strip_suffix(".exe").unwrap_or(base);
    Some(match base {
        "whoami" | "ifconfig" | "ipconfig" | "systeminfo" | "uname" | "netstat" | "phpinfo"
        | "tasklist" | "getent" | "nslookup" | "sysinfo" | "hostnamectl" => Telling::Unique,
        "wget" | "curl" | "nc" | "ncat" | "netcat" | "bash" | "sh" | "zsh" | "ksh" | "csh"
        | "tcsh" | "dash" | "powershell" | "pwsh" | "cmd" | "certutil" | "bitsadmin" | "wmic"
        | "netsh" | "telnet" | "socat" | "busybox" | "mkfifo" | "taskkill" | "python"
        | "python2" | "python3" | "perl" | "ruby" | "php" | "lua" | "node" | "nodejs" | "chmod"
        | "chown" | "crontab" | "nohup" | "xterm" | "regsvr32" | "rundll32" | "mshta"
        | "cscript" | "wscript" | "schtasks" | "icacls" | "cacls" | "findstr" | "lsof" | "tftp"
        | "ssh" | "scp" | "sftp" | "base64" | "xxd" | "hexdump" | "pkill" | "killall"
        | "useradd" | "usermod" | "passwd" | "sudo" | "ping" | "sleep" | "printenv" | "whereis"
        | "ifup" | "iptables" | "msfvenom" | "gawk" | "awk" | "sed" | "dig" | "traceroute"
        | "tracert" | "route" | "arp" | "openssl" | "ls" | "pwd" | "id" | "env" | "rmdir"
        | "mkdir" | "uptime" | "hostname" | "dir" | "ver" | "reg" | "net" | "sc" | "attrib"
        | "systemctl" | "tar" | "unzip" | "gzip" => Telling::Tool,
        "cat" | "type" | "echo" | "set" | "which" | "find" | "grep" | "head" | "tail" | "more"
        | "less" | "nl" | "tac" | "rm" | "cp" | "mv" | "touch" | "ln" | "kill" | "ps" | "w"
        | "who" | "last" | "df" | "du" | "free" | "mount" | "host" | "ip" | "zip" | "dd"
        | "strings" | "file" | "stat" | "su" | "eval" | "exec" | "source" | "export" | "alias"
        | "history" | "start" | "del" | "copy" | "move" | "ren" | "timeout" | "printf" | "time"
        | "test" | "read" | "wc" | "sort" | "cut" | "od" | "xargs" | "tee" => Telling::Common,
        _ => return None,
    })
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
