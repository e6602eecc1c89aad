//! Attack and benign tables for the SQL injection detector.

use super::detect;
use crate::detect::Finding;

fn score(value: &str) -> u16 {
    let mut f: Vec<Finding> = Vec::new();
    detect(value, &mut f);
    f.iter().map(|f| f.score).max().unwrap_or(0)
}

#[test]
fn attacks_score_five() {
    let attacks = [
        "' OR 1=1--",
        "' or ''='",
        "\" or \"\"=\"",
        "admin'--",
        "admin' #",
        "admin')--",
        "1 OR 1=1",
        " OR x=x#",
        "') or ('a'='a",
        "1)) or ((1=1",
        "-1 UNION SELECT 1,2,3--",
        "1 union all select null,null",
        "' UNION SELECT username, password FROM users--",
        "/*!50000UNION*/ /*!50000SELECT*/ 1,2",
        "1; DROP TABLE users--",
        "'; exec master..xp_cmdshell 'ping 10.0.0.1'--",
        "1; WAITFOR DELAY '0:0:5'--",
        "1 AND SLEEP(5)",
        "' AND BENCHMARK(1000000,MD5(1))#",
        "1;SELECT PG_SLEEP(5)--",
        "' || pg_sleep(5) || '",
        "1 AND extractvalue(1,concat(0x7e,version()))",
        "MID(@@hostname, 1, 1)",
        "' AND 1=utl_inaddr.get_host_address((select banner from v$version where rownum=1))--",
        " ORDER BY 3--",
        "1' ORDER BY 1,2,3#",
        "x' AND randomblob(1000000000)--",
        "aa'!='1",
        "a' or 1='1",
        "PI() AND COS(PI())=-1",
        "(select(0)from(select(sleep(15)))v)",
        "-1134') OR JSON_EXTRACT('{''aKER'': 9648}', '$.aKER') = 9648*7799 AND ('QlYa' LIKE 'QlYa",
        "123) AND 12=12 AND JSON_DEPTH('{}') != 2521",
        "1e1 union select users from password",
        "3;/* a */ DECLARE @c varchar(255);/* b */SELECT @c='ping '",
        "SELECT * FROM information_schema.tables",
        "U&'pgsql evade' union select * from foo",
        "$$x$$ union select 1",
        "\\''; DROP TABLE users; --",
        // Character-at-a-time extraction.
        "234 + (1 / ASCII(substring(passwd,1,1))-4)",
        "1 - ord(mid(name from 2 for 1))",
        // Numbers ended by keywords, mangled separators and dashes.
        "-1fUNION SELECT column_name FROM t",
        "\\1UNION SELECT 2",
        "1\u{FFFD}UNION\u{FFFD}SELECT\u{FFFD}2--",
        "' or 1=1 \u{2013}",
        // Simple CASE, a union cut short, a select after a logic operator, a quoted alias.
        "case 1 when 2 then 2 end",
        "1 - ANY(SELECT 1) UNION ALL --",
        "1/1/**/union#--",
        "1 AND SELECT TOP 10 USERNAME FROM USERS -- 1",
        "select @version \"foo\"",
        // An operator only SQL writes as a word, between the application's strings.
        "A 'SOUNDS LIKE' B",
        "x 'DIV' y",
        // MSSQL: a procedure without parentheses, another principal, hiding from the trace.
        "1; EXECUTE AS LOGIN 'root'; GO xp_cmdshell 'whoami.exe' ; REVERT ;",
        "x' ; xp_cmdshell 'dir'",
        "1'--sp_password",
        // The true / false pair of a blind probe appended to a number.
        "AND 1",
        " and 0",
        "OR true",
        "&& false",
    ];
    for a in attacks {
        assert!(score(a) >= 5, "missed: {a}");
    }
}

#[test]
fn text_with_sql_words_is_not_injection() {
    let benign = [
        "patient refused to select a drop-in clinic",
        "Union City",
        "O'Brien",
        "drop attacks",
        "Delete old PIV order. Update MAR.",
        "Hgb < 7.0 g/dL -- transfuse",
        "D'or 1st parfume",
        "union was a great select",
        "O'connors UNION selected a few friends",
        "1950' AND 60'S WOMEN'S COATS WITH FAKE",
        "I like having true friends",
        "10 OR LESS",
        "DO OR NOT DO",
        "Apt is gated; call when you get here, and we'll come down to get it.",
        "BASE; SET SWAROVSKI",
        "1; exec will create the case 7",
        "if all else fails call grandma",
        "foo or bar add 1",
        "1 having",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "St. Mary's Rd, Apt #3-B",
        "Next of kin -- daughter",
        "+353 (0)21 555-0100 ext. 2#",
        "It's 5 o'clock",
        "hold if HR < 60 or SBP < 100",
        "Nguyễn Thị Minh Khai",
        "1 AND 1/2\" BUTTON",
        "time he came.",
        "I would like to request information about the idv_msdb database.",
        "Credit union --",
        "and 2 more",
        "or",
        "and so on",
        "2fa enabled, 1st floor, 3d scan",
        "case 3 when admitted then discharged",
        "1 and select from the list",
        "O'Brien \u{2013} next of kin",
        "1 \u{2013} 2 tablets",
    ];
    for b in benign {
        assert_eq!(score(b), 0, "false positive: {b}");
    }
}

#[test]
fn quoted_words_and_symbols_do_not_block() {
    // An operator between the application's strings is suspicious, not decisive, when prose
    // quotes it as often.
    for b in [
        "the 'or' clause",
        "use '/' as separator",
        "SMALL '&' SIGN",
        "kinda 'like' that",
        "reset via sp_password -- see runbook",
    ] {
        assert!(score(b) < 5, "blocks: {b}");
    }
}

/// The shortcut for plain words gives what the lexer and the walk give: on every corpus
/// string, on each with only the bytes the shortcut accepts kept (and with other bytes made
/// one `-`, so that more of them take the shortcut), and on words that hide a keyword after
/// a number.
#[test]
fn plain_words_are_judged_as_by_the_lexer() {
    use super::detect_in;
    use crate::detect::differential::{assert_same_findings, corpus_strings, without};
    let mut values = corpus_strings();
    let plain: Vec<String> = values
        .iter()
        .map(|t| {
            without(t, |c| {
                !(c.is_ascii_alphanumeric() || b"-./ ,();".contains(&c))
            })
        })
        .collect();
    // Without parentheses, so that function names (`sleep`, `version`) can be plain too.
    let unparenthesised: Vec<String> = values
        .iter()
        .map(|t| {
            without(t, |c| {
                !(c.is_ascii_alphanumeric() || b"-./ ,;".contains(&c))
            })
        })
        .collect();
    let single_dash: Vec<String> = values
        .iter()
        .map(|t| {
            let kept: String = t
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            kept.split('-')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect();
    values.extend(plain);
    values.extend(unparenthesised);
    values.extend(single_dash);
    for v in [
        "1union",
        "1UNION-select-1",
        "1fUNION",
        "1dunion",
        "0x1funion",
        "0x1fgunion",
        "0b012union",
        "1e5union",
        "1e-5or",
        "2fa",
        "sleep",
        "sysobjects",
        "SysObjects",
        "waitfor",
        "1-1",
        "-1",
        "1-",
        "a-b",
        "1-or-1",
        "or-1",
        "1or1",
        "select",
        "6f1c2b9e-3d4a-4f8e-9b7a-2c5d8e1f0a34",
        "2024-11-02",
        "x",
        "1e",
        "1e-",
        "1.e5union",
        "1.e5sysobjects",
        "x/2.E5SysObjects",
        "1.e5union/select/1",
        "a.e5union",
        "x 1.E5OR 1",
        "1 or 1",
        "1/or/1",
        "a.b.sysobjects",
        "x, union select 1, 2",
        "version",
        "g/dL",
        "/record/fhir/Binary/edge-bin-v2",
        "1.5, 2.5 / 3",
        "1-1--",
        "1--",
        "2-1---",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
        "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)",
        "x like y",
        "1 like 1",
        "a in (1, 2)",
        "x is null",
        "1 or 1 like 1",
        "sleep(5)",
        "SLEEP (5)",
        "x; sleep(5)",
        "x.sleep(5)",
        "dbms_lock.sleep(5)",
        "version()",
        "1 and version()",
        "ascii(substring(x, 1, 1))",
        "hex(mid(x, 1, 1))",
        "(select 1)",
        "1 union (select 1)",
        "1; select 1",
        "1;select 1, 2",
        "x; drop table users",
        "x; waitfor delay 5",
        "x; shutdown",
        ";",
        "1;",
        ";;",
        ")",
        "1)",
        "1) or (1",
        "(1) like (1)",
        "1 like 1;--",
        "(--",
        "x (sysobjects)",
        "x (information_schema.tables)",
        "like(1)",
        "foo(1) like bar(2)",
        "1(union)",
        "1)union(select(1))",
        "2.e5like(1)",
    ] {
        values.push(v.to_owned());
    }
    values.push("a1".repeat(150));
    // The shortcut is exercised, not only the path around it.
    assert_same_findings(
        &values,
        detect,
        detect_in,
        |t| super::is_plain_words(t.as_bytes()),
        1000,
    );
}
