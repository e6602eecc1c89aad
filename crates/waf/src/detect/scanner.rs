//! Known scanners and exploit tools: their User-Agent names (a short list of tool names, not
//! payloads), and the out-of-band interaction domains their blind probes call back to.

use super::needles::Needles;
use super::{AttackClass, Finding};

/// Tool names as they appear in User-Agent strings.
static TOOLS: Needles = Needles::new(&[
    b"sqlmap",
    b"nikto",
    b"nessus",
    b"openvas",
    b"acunetix",
    b"netsparker",
    b"nuclei",
    b"masscan",
    b"zgrab",
    b"zmap",
    b"w3af",
    b"dirbuster",
    b"gobuster",
    b"wpscan",
    b"wfuzz",
    b"fuzz faster u fool",
    b"ffuf",
    b"appscan",
    b"webinspect",
    b"arachni",
    b"skipfish",
    b"nmap scripting engine",
    b"havij",
    b"commix",
    b"jaeles",
    b"xsstrike",
    b"whatweb",
    b"owasp zap",
    b"zaproxy",
    b"hydra",
    b"paros",
    b"jorgee",
    b"zmeu",
    b"morfeus",
    b"bbqsql",
    b"dirsearch",
    b"feroxbuster",
    b"httpx - open-source",
    b"interactsh",
    b".nasl",
    b"qualys",
    b"burp collaborator",
    b"metasploit",
    b"vega/",
    b"grabber",
    b"teh forest lobster",
    b"brutus",
]);

/// Domains of out-of-band interaction services (blind injection callbacks).
static OOB: Needles = Needles::new(&[
    b"burpcollaborator.net",
    b"oastify.com",
    b"interact.sh",
    b"oast.me",
    b"oast.fun",
    b"oast.pro",
    b"oast.live",
    b"oast.site",
    b"oast.online",
    b"dnslog.cn",
    b"ceye.io",
    b"canarytokens.com",
    b"requestbin.net",
    b"pipedream.net",
    b"dnslog.link",
    b"xss.ht",
    b"bxss.me",
    b"interactsh.com",
]);

/// Judge a User-Agent value for tool names.
pub(crate) fn user_agent(value: &str, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    if let Some((tool, at)) = TOOLS.first_listed(b) {
        findings.push(Finding {
            class: AttackClass::Scanner,
            rule: "scanner.user-agent",
            score: 5,
            span: at..at + tool.len(),
        });
    }
}

/// Judge any value for out-of-band callback domains.
pub(crate) fn callback_domain(value: &str, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    // Every domain in `OOB` has a `.`, which no case-insensitive match can supply: a value
    // without one (most path segments, codes, names) holds none of them.
    if memchr::memchr(b'.', b).is_none() {
        return;
    }
    // Each domain's first occurrence is judged, in list order.
    let found = OOB.find_all(b);
    for (_, d, at) in found.iter(&OOB) {
        // A label boundary before the domain: `x.oast.me`, not `toast.me`.
        let bounded = at == 0
            || b.get(at - 1)
                .is_some_and(|c| !c.is_ascii_alphanumeric() && *c != b'-');
        if bounded {
            findings.push(Finding {
                class: AttackClass::Scanner,
                rule: "scanner.callback-domain",
                score: 5,
                span: at..at + d.len(),
            });
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_callback_domain_has_a_dot() {
        assert!(OOB.needles().iter().all(|d| d.contains(&b'.')));
    }

    #[test]
    fn tools_and_callbacks() {
        for ua in [
            "sqlmap/1.7.4#stable (https://sqlmap.org)",
            "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 22.4.1)",
            "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
            "Fuzz Faster U Fool v2.0.0",
            "mercuryboard_user_agent_sql_injection.nasl'",
            "Microsoft WinRM Client OpenVASVT",
        ] {
            let mut f = Vec::new();
            user_agent(ua, &mut f);
            assert_eq!(f.len(), 1, "{ua}");
        }
        let mut f = Vec::new();
        user_agent(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
            &mut f,
        );
        assert!(f.is_empty());
        callback_domain("root@w63gecoroprj5um8ypnd7r6in9t0hseg3.interact.sh", &mut f);
        assert_eq!(f.len(), 1);
        let mut g = Vec::new();
        callback_domain("https://toast.me/menu", &mut g);
        assert!(g.is_empty());
    }
}
