//! The grammar walk: follows a token sequence the way a SQL parser would (operand, operator,
//! operand, ...) and records what the valid part contains. A walk stops at the first token no
//! dialect would accept there, so natural text ("patient refused to select a drop-in clinic")
//! stops within a token or two, while an injection stays valid to its end or its comment.

use super::keywords::{FnClass, Kw, Stmt, WordClass, system_catalog};
use super::lexer::{Kind, Op, Token};
use smallvec::SmallVec;

/// What the valid part of a token sequence contains.
#[derive(Debug, Default, Clone)]
pub(crate) struct Evidence {
    /// An `AND` / `OR` / `XOR` / `&&` / `||`.
    pub logic: bool,
    /// A comparison (`=`, `<>`, `LIKE`, `IS`, `IN`, `BETWEEN`, `REGEXP`, ...).
    pub compare: bool,
    /// The first operator after the start was a comparison.
    pub compare_first: bool,
    /// The operand right after a logic operator is true by itself (non-zero number, function
    /// call, sub-expression, `TRUE`, `NOT ...`).
    pub truthy_after_logic: bool,
    /// Arithmetic or concatenation.
    pub arithmetic: bool,
    /// Operators spelled as words that only SQL has (`DIV`, `SOUNDS`, `COLLATE`, `BINARY`).
    pub keyword_op: bool,
    /// The most telling function called.
    pub function: Option<FnClass>,
    /// Byte range of the first attack-class function call.
    pub attack_call: Option<(usize, usize)>,
    /// A `SELECT` inside parentheses.
    pub subquery: bool,
    /// `UNION [ALL] SELECT`.
    pub union: bool,
    /// A statement after `;`.
    pub stacked: bool,
    /// `ORDER BY`, `GROUP BY`, `HAVING`, `WHERE`, `LIMIT`, `INTO`, `PROCEDURE` after an operand.
    pub clause: bool,
    /// Code ends in a comment that swallows the rest of the application's query.
    pub comment_end: bool,
    /// A comment (or `;` and a comment) came before any other token.
    pub comment_first: bool,
    /// `@@version`-style system variable.
    pub system_var: bool,
    /// `@x` user variable.
    pub user_var: bool,
    /// MySQL `/*! ... */` code.
    pub versioned: bool,
    /// `information_schema` and other catalogs.
    pub catalog: bool,
    /// A `)` closed a parenthesis the application opened.
    pub app_paren: bool,
    /// `WAITFOR DELAY '..'`.
    pub waitfor: bool,
    /// The comparison operator was a symbol (`=`, `<>`, ...), not a word (`LIKE`, `IS`).
    pub compare_symbol: bool,
    /// A clause keyword was followed by a value that is not a string (`ORDER BY 3`).
    pub clause_value: bool,
    /// A comparison after a logic operator was completed with its right operand.
    pub tautology_done: bool,
    /// `INTO OUTFILE` / `INTO DUMPFILE`: writing a file on the server.
    pub outfile: bool,
    /// `CASE WHEN ... THEN`: a conditional only SQL writes this way.
    pub case_when: bool,
    /// A logic operator and a comparison in the same list item (`1 OR 1=1`, not
    /// "do or not do, there is no").
    pub tautology: bool,
    /// A character code of a substring (`ASCII(SUBSTRING(x,1,1))`): blind extraction, one
    /// character at a time.
    pub char_extraction: bool,
    /// `UNION [ALL]` after a value, then only a short comment: the rest of a union cut off
    /// (`1 - ANY(SELECT 1) UNION ALL --`).
    pub union_cut: bool,
}

/// The outcome of a walk.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    /// What the valid part contains.
    pub ev: Evidence,
    /// Tokens accepted.
    pub accepted: usize,
    /// Whether the sequence ended (or reached a comment) without a syntax error, in a state a
    /// query can end in.
    pub clean: bool,
    /// Byte offset of the end of the valid part.
    pub end: usize,
    /// Byte offset of the first accepted token.
    pub start: usize,
    /// The input ended while a value was still expected (a payload cut short), without error.
    pub truncated: bool,
    /// The walk stopped at a token that continues natural text (a plain word, a string).
    pub stopped_at_text: bool,
}

/// Where the grammar is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// A value is expected.
    Operand,
    /// An operator (or the end) is expected.
    Operator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paren {
    Group,
    Call,
}

/// Walk `toks[from..]` starting in `state`.
pub(crate) fn walk(toks: &[Token], src: &[u8], from: usize, state: State) -> Walk {
    walk_in(toks, src, from, state, false)
}

/// Walk as [`walk`], in a list context (`ORDER BY <value>`, `SELECT <value>`): commas at the
/// top level are valid.
pub(crate) fn walk_list(toks: &[Token], src: &[u8], from: usize, state: State) -> Walk {
    walk_in(toks, src, from, state, true)
}

fn walk_in(toks: &[Token], src: &[u8], from: usize, state: State, in_list: bool) -> Walk {
    let mut w = Walker {
        toks,
        src,
        i: from,
        state,
        parens: Vec::new(),
        ev: Evidence::default(),
        in_select: false,
        in_list,
        after_logic: false,
        alias_ok: false,
        operators_seen: 0,
        call_just_opened: false,
        prev_str: from > 0
            && toks
                .get(from - 1)
                .is_some_and(|t| matches!(t.kind, Kind::Str { .. })),
        after_case: false,
        cases: 0,
        case_arms: false,
        select_after_logic: false,
        pending_clause: false,
        segment_logic: false,
        segment_compare: false,
        stopped_at_text: false,
        accepted: 0,
        start: toks.get(from).map_or(0, |t| t.start),
        end: toks.get(from).map_or(0, |t| t.start),
    };
    let clean = w.run();
    let truncated = !clean && w.i >= toks.len() && w.state == State::Operand && w.accepted > 0;
    Walk {
        ev: w.ev,
        accepted: w.accepted,
        clean,
        end: w.end,
        start: w.start,
        truncated,
        stopped_at_text: w.stopped_at_text,
    }
}

struct Walker<'t> {
    toks: &'t [Token],
    src: &'t [u8],
    i: usize,
    state: State,
    parens: Vec<Paren>,
    ev: Evidence,
    /// Inside a select list or FROM clause: commas, aliases and FROM are valid.
    in_select: bool,
    /// Inside an ORDER BY / GROUP BY list: commas are valid.
    in_list: bool,
    /// The last operator was a logic operator.
    after_logic: bool,
    /// An alias may follow (after a select-list item or a table).
    alias_ok: bool,
    operators_seen: u32,
    call_just_opened: bool,
    prev_str: bool,
    /// The last token was `CASE`: `WHEN` may follow directly.
    after_case: bool,
    /// `CASE` expressions open.
    cases: u32,
    /// A `WHEN` arm was read in an open `CASE`.
    case_arms: bool,
    /// A `SELECT` right after a logic operator (`1 AND SELECT ..`): a sub-query once its
    /// `FROM` follows.
    select_after_logic: bool,
    /// A clause keyword was just read; its value decides `clause_value`.
    pending_clause: bool,
    /// Logic operator / comparison seen in the current top-level list item.
    segment_logic: bool,
    segment_compare: bool,
    stopped_at_text: bool,
    accepted: usize,
    start: usize,
    end: usize,
}

/// A syntax error: the walk stops.
struct Stop;

impl Walker<'_> {
    fn run(&mut self) -> bool {
        while let Some(&tok) = self.toks.get(self.i) {
            match tok.kind {
                Kind::Comment { to_end } => {
                    if self.accepted == 0 && to_end {
                        self.ev.comment_first = true;
                    }
                    if to_end {
                        self.ev.comment_end = true;
                        self.accept(tok);
                        // Whatever the state, the application's rest is commented out; an
                        // operand still missing makes the query invalid.
                        // `1,2,--+`: a list left open by a generated payload.
                        let open_list = self.in_list
                            && self.i >= 2
                            && self
                                .toks
                                .get(self.i - 2)
                                .is_some_and(|t| t.kind == Kind::Comma);
                        return self.state == State::Operator
                            || open_list
                            || self.parens.is_empty()
                                && self.accepted > 1
                                && self.ev.comment_first;
                    }
                    self.accept(tok);
                    continue;
                }
                Kind::Versioned => {
                    self.ev.versioned = true;
                    self.accept(tok);
                    continue;
                }
                _ => {}
            }
            let step = match self.state {
                State::Operand => self.operand(tok),
                State::Operator => self.operator(tok),
            };
            if step.is_err() {
                self.stopped_at_text = match tok.kind {
                    Kind::Word => !self.followed_by_paren() && tok.class.kw == Kw::Plain,
                    Kind::Str { .. } | Kind::Other => true,
                    _ => false,
                };
                return false;
            }
        }
        self.state == State::Operator
    }

    fn accept(&mut self, tok: Token) {
        self.accepted += 1;
        self.end = tok.end;
        self.i += 1;
    }

    /// Move to `toks[i]` and accept it (no-op past the end).
    fn accept_at(&mut self, i: Option<usize>) {
        if let Some(t) = i.and_then(|i| self.toks.get(i)).copied() {
            self.i = i.unwrap_or(self.i);
            self.accept(t);
        }
    }

    /// The index of the next token that is not a comment, from `i`.
    fn next_code(&self, mut i: usize) -> Option<usize> {
        while let Some(t) = self.toks.get(i) {
            if !matches!(t.kind, Kind::Comment { .. } | Kind::Versioned) {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    fn kind_at(&self, i: Option<usize>) -> Option<Kind> {
        i.and_then(|i| self.toks.get(i)).map(|t| t.kind)
    }

    fn word_at(&self, i: Option<usize>) -> Option<Kw> {
        let t = self.toks.get(i?)?;
        (t.kind == Kind::Word).then_some(t.class.kw)
    }

    fn text(&self, tok: Token) -> &[u8] {
        self.src.get(tok.start..tok.end).unwrap_or(b"")
    }

    fn followed_by_paren(&self) -> bool {
        self.kind_at(self.next_code(self.i + 1)) == Some(Kind::LParen)
    }

    fn became_operand(&mut self, tok: Token, truthy: bool) {
        if std::mem::replace(&mut self.pending_clause, false)
            && !matches!(tok.kind, Kind::Str { .. })
        {
            self.ev.clause_value = true;
        }
        if self.ev.logic && self.ev.compare {
            self.ev.tautology_done = true;
        }
        self.alias_ok = self.in_select;
        if self.after_logic {
            if truthy {
                self.ev.truthy_after_logic = true;
            }
            self.after_logic = false;
        }
        self.prev_str = matches!(tok.kind, Kind::Str { .. });
        self.accept(tok);
        self.state = State::Operator;
    }

    fn operand(&mut self, tok: Token) -> Result<(), Stop> {
        let opened = std::mem::replace(&mut self.call_just_opened, false);
        match tok.kind {
            Kind::Num => {
                let zero = self
                    .text(tok)
                    .iter()
                    .all(|b| matches!(b, b'0' | b'.' | b'\\'));
                self.became_operand(tok, !zero);
            }
            Kind::Str { .. } => {
                // MySQL converts a string to the number its digits start with: '1=1' is 1.
                let inner = self.text(tok);
                let digits = inner
                    .iter()
                    .skip_while(|b| matches!(b, b'\'' | b'"' | b' '));
                let truthy = digits
                    .take_while(|b| b.is_ascii_digit())
                    .any(|b| *b != b'0');
                self.became_operand(tok, truthy);
            }
            Kind::QuotedIdent => {
                let inner = self.text(tok);
                let inner = inner.get(1..inner.len().saturating_sub(1)).unwrap_or(b"");
                if system_catalog(inner) {
                    self.ev.catalog = true;
                }
                self.became_operand(tok, false);
            }
            Kind::Var { system } => {
                if system {
                    self.ev.system_var = true;
                } else {
                    self.ev.user_var = true;
                }
                self.became_operand(tok, true);
            }
            Kind::LParen => {
                self.parens.push(Paren::Group);
                self.pending_clause = false;
                if self.after_logic {
                    self.ev.truthy_after_logic = true;
                    self.after_logic = false;
                }
                self.accept(tok);
            }
            Kind::RParen if opened => {
                self.parens.pop();
                self.accept(tok);
                self.state = State::Operator;
            }
            Kind::Word
                if std::mem::replace(&mut self.after_case, false)
                    && tok.class.kw == Kw::CaseArm =>
            {
                self.ev.case_when = true;
                self.accept(tok);
            }
            Kind::Op(Op::Minus | Op::Plus | Op::Not) => self.accept(tok),
            Kind::Op(Op::Star) => self.became_operand(tok, false),
            Kind::Word => return self.operand_word(tok),
            _ => return Err(Stop),
        }
        Ok(())
    }

    fn operand_word(&mut self, tok: Token) -> Result<(), Stop> {
        let kw = tok.class.kw;
        if kw.callable() && self.followed_by_paren() {
            return self.call(tok);
        }
        if tok.class.catalog {
            self.ev.catalog = true;
        }
        match kw {
            // `LEFT`, `RIGHT` as values are identifiers.
            Kw::Plain | Kw::Join => self.became_operand(tok, false),
            Kw::Literal => {
                let truthy = self.text(tok).eq_ignore_ascii_case(b"true");
                self.became_operand(tok, truthy);
            }
            Kw::Not => {
                if self.after_logic {
                    self.ev.truthy_after_logic = true;
                    self.after_logic = false;
                }
                self.accept(tok);
            }
            Kw::Prefix => {
                let w = self.text(tok);
                if w.eq_ignore_ascii_case(b"binary") {
                    self.ev.keyword_op = true;
                }
                self.accept(tok);
            }
            Kw::Select => {
                if !self.parens.is_empty() {
                    self.ev.subquery = true;
                } else if self.after_logic {
                    self.select_after_logic = true;
                    self.after_logic = false;
                } else if self.operators_seen > 0 {
                    return Err(Stop);
                }
                self.in_select = true;
                self.accept(tok);
            }
            Kw::Case => {
                self.accept(tok);
                self.after_case = true;
                self.cases += 1;
            }
            _ => return Err(Stop),
        }
        Ok(())
    }

    fn call(&mut self, tok: Token) -> Result<(), Stop> {
        // `tok` is a word: called by name.
        let mut class = tok.class.function;
        // `utl_http.request(`, `dbms_lock.sleep(`: the package can be what tells.
        if self.i >= 2
            && self
                .toks
                .get(self.i - 1)
                .is_some_and(|t| t.kind == Kind::Dot)
            && let Some(pkg) = self.toks.get(self.i - 2).filter(|t| t.kind == Kind::Word)
        {
            class = class.max(pkg.class.function);
        }
        self.note_function(class, tok);
        if self.after_logic {
            self.ev.truthy_after_logic = true;
            self.after_logic = false;
        }
        self.accept(tok);
        // Skip comments up to the parenthesis, then open the call.
        while let Some(t) = self.toks.get(self.i) {
            let is_paren = t.kind == Kind::LParen;
            let t = *t;
            self.accept(t);
            if is_paren {
                break;
            }
        }
        self.parens.push(Paren::Call);
        self.call_just_opened = true;
        if char_code(self.text(tok)) && self.substring_call_at(self.next_code(self.i)) {
            self.ev.char_extraction = true;
        }
        // `VERSION()`, `USER()`, `DATABASE()` take no argument; `User(foo)` is not that call.
        if class == FnClass::Info
            && self
                .toks
                .get(self.i)
                .is_some_and(|t| t.kind != Kind::RParen)
        {
            self.ev.function = self
                .ev
                .function
                .filter(|f| *f != FnClass::Info)
                .or(Some(FnClass::Unknown));
        }
        self.state = State::Operand;
        Ok(())
    }

    /// Whether `toks[i]` starts a call of a substring function (`SUBSTRING(`, `MID(`, ...).
    fn substring_call_at(&self, i: Option<usize>) -> bool {
        let Some(i) = i else {
            return false;
        };
        let name = self.toks.get(i).filter(|t| t.kind == Kind::Word);
        name.is_some_and(|t| {
            let mut buf = [0u8; 32];
            matches!(
                crate::detect::ascii::lower_into(self.text(*t), &mut buf),
                Some("substring" | "substr" | "mid" | "left" | "right" | "substring_index")
            )
        }) && self.kind_at(self.next_code(i + 1)) == Some(Kind::LParen)
    }

    fn note_function(&mut self, class: FnClass, tok: Token) {
        if class == FnClass::Attack && self.ev.attack_call.is_none() {
            self.ev.attack_call = Some((tok.start, tok.end));
        }
        self.ev.function = self.ev.function.max(Some(class));
    }

    fn binary(&mut self, tok: Token) {
        self.operators_seen += 1;
        self.alias_ok = false;
        self.accept(tok);
        self.state = State::Operand;
    }

    fn compare(&mut self, tok: Token) {
        self.segment_compare = true;
        self.ev.tautology |= self.segment_logic;
        if self.operators_seen == 0 {
            self.ev.compare_first = true;
        }
        if tok.kind != Kind::Word {
            self.ev.compare_symbol = true;
        }
        self.ev.compare = true;
        self.binary(tok);
    }

    fn operator(&mut self, tok: Token) -> Result<(), Stop> {
        let was_str = std::mem::replace(&mut self.prev_str, false);
        match tok.kind {
            Kind::Op(Op::Compare) => self.compare(tok),
            Kind::Op(Op::Assign) => self.binary(tok),
            Kind::Op(Op::Logic) => {
                self.ev.logic = true;
                self.segment_logic = true;
                self.ev.tautology |= self.segment_compare;
                self.binary(tok);
                self.after_logic = true;
            }
            Kind::Op(Op::Minus | Op::Plus | Op::Star | Op::Binary) => {
                self.ev.arithmetic = true;
                self.binary(tok);
            }
            Kind::RParen => {
                if self.parens.pop().is_none() {
                    self.ev.app_paren = true;
                }
                self.alias_ok = self.in_select;
                self.accept(tok);
            }
            Kind::Comma => {
                if self.parens.is_empty() && !self.in_select && !self.in_list {
                    return Err(Stop);
                }
                if self.parens.is_empty() {
                    self.segment_logic = false;
                    self.segment_compare = false;
                }
                self.alias_ok = false;
                self.accept(tok);
                self.state = State::Operand;
            }
            Kind::Dot => return self.qualified(tok),
            Kind::Semicolon => return self.semicolon(tok),
            // Adjacent string literals concatenate in MySQL.
            Kind::Str { .. } if was_str => {
                self.prev_str = true;
                self.accept(tok);
            }
            Kind::Word => return self.operator_word(tok),
            // `SELECT x "name"`: a quoted alias.
            Kind::QuotedIdent | Kind::Str { closed: true } if self.alias_ok => {
                self.alias_ok = false;
                self.accept(tok);
            }
            _ => return Err(Stop),
        }
        Ok(())
    }

    fn qualified(&mut self, tok: Token) -> Result<(), Stop> {
        self.accept(tok);
        // `master..xp_cmdshell`: empty components are valid in MSSQL.
        while self.kind_at(Some(self.i)) == Some(Kind::Dot) {
            self.accept_at(Some(self.i));
        }
        let Some(&next) = self.toks.get(self.i) else {
            return Err(Stop);
        };
        match next.kind {
            Kind::Word if self.followed_by_paren() => self.call(next),
            Kind::Word | Kind::QuotedIdent | Kind::Op(Op::Star) => {
                let catalog = match next.kind {
                    Kind::Word => next.class.catalog,
                    _ => system_catalog(self.text(next)),
                };
                if catalog {
                    self.ev.catalog = true;
                }
                self.accept(next);
                Ok(())
            }
            _ => Err(Stop),
        }
    }

    fn semicolon(&mut self, tok: Token) -> Result<(), Stop> {
        self.accept(tok);
        let next = self.next_code(self.i);
        let Some(next) = next else {
            // `';` or `'; --`: the statement ends here.
            if self.accepted == 1 {
                self.ev.comment_first = true;
            }
            return Ok(());
        };
        let Some(kw) = self.word_at(Some(next)) else {
            return Err(Stop);
        };
        match kw {
            Kw::Select => {
                self.ev.stacked = true;
                self.parens.clear();
                self.in_select = false;
                self.state = State::Operand;
                self.operators_seen = 0;
                Ok(())
            }
            Kw::Statement(stmt) if statement_shape(self.toks, self.src, next, stmt) => {
                self.ev.stacked = true;
                if stmt == Stmt::Waitfor {
                    self.ev.waitfor = true;
                }
                // The statement's own grammar is not followed further: it is decided.
                self.i = self.toks.len();
                self.end = self.toks.last().map_or(self.end, |t| t.end);
                self.state = State::Operator;
                Ok(())
            }
            _ => Err(Stop),
        }
    }

    fn operator_word(&mut self, tok: Token) -> Result<(), Stop> {
        let kw = tok.class.kw;
        // Inside a call: `SUBSTRING(x FROM 1 FOR 1)`, `CAST(x AS CHAR)`, `CONVERT(x USING utf8)`,
        // `POSITION('a' IN b)`.
        if self.parens.last() == Some(&Paren::Call)
            && matches!(kw, Kw::From | Kw::For | Kw::As | Kw::Join | Kw::Compare)
        {
            self.binary(tok);
            return Ok(());
        }
        match kw {
            Kw::Logic => {
                self.ev.logic = true;
                self.segment_logic = true;
                self.ev.tautology |= self.segment_compare;
                self.binary(tok);
                self.after_logic = true;
            }
            Kw::Compare => self.compare(tok),
            Kw::Operator => {
                self.ev.keyword_op = true;
                self.binary(tok);
                // `SOUNDS LIKE`
                let next = self.next_code(self.i);
                if self.word_at(next) == Some(Kw::Compare) {
                    self.segment_compare = true;
                    self.ev.tautology |= self.segment_logic;
                    self.ev.compare = true;
                    self.accept_at(next);
                }
            }
            Kw::Not => {
                // `NOT LIKE`, `NOT IN`, `NOT BETWEEN`, `NOT REGEXP`.
                let next = self.next_code(self.i + 1);
                if self.word_at(next) != Some(Kw::Compare) {
                    return Err(Stop);
                }
                self.accept(tok);
            }
            Kw::Union => return self.union(tok),
            Kw::Sort => {
                if self.word_at(self.next_code(self.i + 1)) != Some(Kw::By) {
                    return Err(Stop);
                }
                self.ev.clause = true;
                self.accept(tok);
                self.accept_at(self.next_code(self.i));
                self.in_list = true;
                self.state = State::Operand;
                self.pending_clause = true;
            }
            Kw::Filter | Kw::Limit | Kw::Procedure => {
                self.ev.clause = true;
                self.binary(tok);
                self.pending_clause = true;
            }
            // MSSQL runs statements of a batch without `;`: `' insert into users values(..)--`.
            Kw::Statement(stmt) if statement_shape(self.toks, self.src, self.i, stmt) => {
                self.ev.stacked = true;
                self.accept(tok);
                self.i = self.toks.len();
                self.end = self.toks.last().map_or(self.end, |t| t.end);
            }
            Kw::Into => {
                self.ev.clause = true;
                self.binary(tok);
                // `INTO OUTFILE '..'` / `INTO DUMPFILE '..'`
                if let Some(t) = self.toks.get(self.i).copied() {
                    let w = self.text(t);
                    if w.eq_ignore_ascii_case(b"outfile") || w.eq_ignore_ascii_case(b"dumpfile") {
                        self.ev.outfile = true;
                        self.accept(t);
                    }
                }
            }
            Kw::From if self.in_select => {
                self.ev.subquery |= self.select_after_logic;
                self.binary(tok);
            }
            Kw::For => {
                self.accept(tok);
                // `FOR UPDATE`, `FOR XML PATH`: the rest is modifiers.
                while self.word_at(Some(self.i)).is_some() {
                    self.accept_at(Some(self.i));
                }
            }
            Kw::As => {
                self.alias_ok = false;
                self.binary(tok);
            }
            Kw::Direction => self.accept(tok),
            Kw::Join if self.in_select => self.binary(tok),
            Kw::CaseArm => {
                self.case_arms |= self.cases > 0;
                self.binary(tok);
            }
            Kw::End => {
                // `CASE x WHEN .. THEN .. END`: the simple form, decided once it is closed.
                if self.cases > 0 && self.case_arms {
                    self.ev.case_when = true;
                }
                self.cases = self.cases.saturating_sub(1);
                self.accept(tok);
            }
            Kw::Plain if self.alias_ok => {
                self.alias_ok = false;
                self.accept(tok);
            }
            _ => return Err(Stop),
        }
        Ok(())
    }

    fn union(&mut self, tok: Token) -> Result<(), Stop> {
        let mut j = self.next_code(self.i + 1);
        if matches!(self.word_at(j), Some(Kw::Prefix)) {
            j = self.next_code(j.map_or(self.i, |j| j + 1));
        }
        let mut opens = 0;
        while self.kind_at(j) == Some(Kind::LParen) {
            opens += 1;
            j = self.next_code(j.map_or(self.i, |j| j + 1));
        }
        if self.word_at(j) != Some(Kw::Select) {
            return self.union_cut(tok);
        }
        self.ev.union = true;
        self.accept(tok);
        for _ in 0..opens {
            self.parens.push(Paren::Group);
        }
        self.accept_at(j);
        self.in_select = true;
        self.state = State::Operand;
        Ok(())
    }
}

impl Walker<'_> {
    /// `UNION [ALL|DISTINCT]` after a value and then only a short comment to the end: the
    /// union was cut from its select. "Credit union --" is a word before it, not a value.
    fn union_cut(&mut self, tok: Token) -> Result<(), Stop> {
        let value_before = self.toks[..self.i.min(self.toks.len())]
            .iter()
            .rev()
            .find(|t| !matches!(t.kind, Kind::Comment { .. }))
            .is_some_and(|t| {
                matches!(
                    t.kind,
                    Kind::Num | Kind::RParen | Kind::Str { .. } | Kind::Var { .. }
                )
            });
        let mut j = self.i + 1;
        if matches!(self.word_at(Some(j)), Some(Kw::Prefix)) {
            j += 1;
        }
        let comment = self
            .toks
            .get(j)
            .filter(|t| t.kind == (Kind::Comment { to_end: true }));
        let short = comment.is_some_and(|c| {
            self.text(*c)
                .iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .count()
                <= 3
        });
        if !(value_before && short) {
            return Err(Stop);
        }
        self.ev.union_cut = true;
        self.accept(tok);
        while self.i < j {
            self.accept_at(Some(self.i));
        }
        self.state = State::Operator;
        Ok(())
    }
}

/// A function that turns a character into its code (`ASCII`, `ORD`, `UNICODE`, `HEX`).
fn char_code(name: &[u8]) -> bool {
    ["ascii", "ord", "unicode", "hex"]
        .iter()
        .any(|f| name.eq_ignore_ascii_case(f.as_bytes()))
}

/// Whether a statement keyword at `toks[at]` is followed by what that statement needs
/// (`DROP TABLE`, `INSERT INTO`, `EXEC xp_cmdshell`, `WAITFOR DELAY '..'`, ...).
pub(crate) fn statement_shape(toks: &[Token], src: &[u8], at: usize, stmt: Stmt) -> bool {
    let code: SmallVec<[Token; 4]> = toks
        .iter()
        .skip(at + 1)
        .filter(|t| !matches!(t.kind, Kind::Comment { .. } | Kind::Versioned))
        .take(4)
        .copied()
        .collect();
    let text = |i: usize| {
        code.get(i)
            .and_then(|t| src.get(t.start..t.end))
            .unwrap_or(b"")
    };
    let kind = |i: usize| code.get(i).map(|t| t.kind);
    let class = |i: usize| code.get(i).map_or(WordClass::NONE, |t| t.class);
    let word_is = |i: usize, options: &[&str]| {
        kind(i) == Some(Kind::Word)
            && options
                .iter()
                .any(|o| text(i).eq_ignore_ascii_case(o.as_bytes()))
    };
    let plain = |i: usize| {
        kind(i) == Some(Kind::Word) && class(i).kw == Kw::Plain
            || kind(i) == Some(Kind::QuotedIdent)
    };
    let ends = |i: usize| matches!(kind(i), None | Some(Kind::Semicolon));
    let head = src
        .get(toks.get(at).map_or(0..0, |t| t.start..t.end))
        .unwrap_or(b"");
    match stmt {
        Stmt::Insert => {
            word_is(0, &["into"])
                || plain(0)
                    && (kind(1) == Some(Kind::LParen) || word_is(1, &["values", "select", "set"]))
        }
        Stmt::Update => plain(0) && (word_is(1, &["set"]) || kind(1) == Some(Kind::Dot)),
        Stmt::Delete => word_is(0, &["from"]) || plain(0) && word_is(1, &["from", "where"]),
        Stmt::Ddl => {
            word_is(
                0,
                &[
                    "table",
                    "database",
                    "schema",
                    "procedure",
                    "function",
                    "user",
                    "view",
                    "index",
                    "trigger",
                    "login",
                    "role",
                    "column",
                    "temporary",
                    "temp",
                    "or",
                    "unique",
                    "event",
                    "extension",
                    "server",
                    "sequence",
                    "tablespace",
                    "assembly",
                    "type",
                    "synonym",
                    "alias",
                    "library",
                    "java",
                    "package",
                    "directory",
                ],
            ) || head.eq_ignore_ascii_case(b"truncate") && plain(0) && ends(1)
        }
        Stmt::Exec => {
            if head.eq_ignore_ascii_case(b"call") {
                return plain(0) && (kind(1) == Some(Kind::LParen) || kind(1) == Some(Kind::Dot));
            }
            match kind(0) {
                Some(Kind::Var { .. } | Kind::LParen | Kind::Str { .. }) => true,
                // `EXECUTE AS LOGIN = 'sa'`: running as another principal.
                Some(Kind::Word) if word_is(0, &["as"]) => word_is(1, &["login", "user", "owner"]),
                Some(Kind::Word) => {
                    let name = text(0);
                    kind(1) == Some(Kind::Dot)
                        || name.contains(&b'_')
                        || class(0).function == FnClass::Attack
                }
                _ => false,
            }
        }
        Stmt::Declare => matches!(kind(0), Some(Kind::Var { .. })),
        Stmt::Set => {
            matches!(kind(0), Some(Kind::Var { .. }))
                || plain(0) && kind(1) == Some(Kind::Op(Op::Compare))
                || word_is(
                    0,
                    &["global", "session", "password", "names", "transaction"],
                )
        }
        Stmt::Shutdown => ends(0) || word_is(0, &["with", "nowait"]),
        Stmt::Waitfor => {
            word_is(0, &["delay", "time"]) && matches!(kind(1), Some(Kind::Str { .. }))
        }
        Stmt::If => {
            matches!(kind(0), Some(Kind::LParen | Kind::Var { .. } | Kind::Num))
                || word_is(0, &["exists", "not"])
        }
        Stmt::Grant => word_is(
            0,
            &[
                "all", "select", "insert", "update", "delete", "execute", "exec", "usage", "dba",
                "connect", "file", "super", "create",
            ],
        ),
        Stmt::Other => {
            let h = |w: &str| head.eq_ignore_ascii_case(w.as_bytes());
            if h("load") {
                word_is(0, &["data", "xml"])
            } else if h("copy") {
                (plain(0) || kind(0) == Some(Kind::LParen))
                    && (word_is(1, &["from", "to"]) || kind(1) == Some(Kind::LParen))
            } else if h("backup") || h("restore") {
                word_is(0, &["database", "log"])
            } else if h("kill") {
                kind(0) == Some(Kind::Num)
            } else if h("show") {
                word_is(
                    0,
                    &[
                        "tables",
                        "databases",
                        "grants",
                        "variables",
                        "processlist",
                        "columns",
                        "schemas",
                        "users",
                        "status",
                        "create",
                    ],
                )
            } else if h("use") {
                plain(0) && ends(1)
            } else if h("handler") {
                plain(0) && word_is(1, &["open", "read"])
            } else if h("begin") {
                ends(0)
                    || word_is(0, &["tran", "transaction", "declare"])
                    || kind(0) == Some(Kind::Word) && matches!(class(0).kw, Kw::Statement(_))
            } else if h("while") {
                matches!(kind(0), Some(Kind::Num | Kind::LParen | Kind::Var { .. }))
            } else {
                // PRINT: MSSQL output of an expression.
                matches!(kind(0), Some(Kind::Var { .. }))
            }
        }
    }
}
