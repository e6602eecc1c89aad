//! What SQL words mean: keyword classes and the functions attackers call.

use crate::detect::ascii::lower_bytes_into;

/// What one word is to each table below: classified once per token by the lexer, so that the
/// judges and the grammar walk read it instead of looking the word up again per rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WordClass {
    /// Its keyword class ([`keyword`]).
    pub kw: Kw,
    /// Its class as the name of a called function.
    pub function: FnClass,
    /// Whether it names a system catalog ([`system_catalog`]).
    pub catalog: bool,
}

impl WordClass {
    /// A word no table knows (and the class of every token that is not a word).
    pub(crate) const NONE: WordClass = WordClass {
        kw: Kw::Plain,
        function: FnClass::Unknown,
        catalog: false,
    };
}

/// Classify a word (any case) by every table at once: lower-cased once, looked up three times.
pub(crate) fn classify(word: &[u8]) -> WordClass {
    let mut buf = [0u8; 32];
    let Some(w) = lower_bytes_into(word, &mut buf) else {
        return WordClass::NONE;
    };
    WordClass {
        kw: keyword_lower(w),
        function: function_lower(w),
        catalog: system_catalog_lower(w),
    }
}

/// [`classify`]'s keyword class and catalog flag, without the function table (for a word
/// that cannot be called).
pub(crate) fn keyword_and_catalog(word: &[u8]) -> (Kw, bool) {
    let mut buf = [0u8; 32];
    let Some(w) = lower_bytes_into(word, &mut buf) else {
        return (WordClass::NONE.kw, WordClass::NONE.catalog);
    };
    (keyword_lower(w), system_catalog_lower(w))
}

/// The grammatical role of a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    /// Not a keyword: an identifier (or a function name when followed by `(`).
    Plain,
    /// `UNION`.
    Union,
    /// `SELECT`.
    Select,
    /// A statement that can be stacked after `;`.
    Statement(Stmt),
    /// `AND`, `OR`, `XOR`.
    Logic,
    /// `NOT`.
    Not,
    /// Comparison-like operators written as words: `LIKE`, `IS`, `IN`, `BETWEEN`, `REGEXP`, ...
    Compare,
    /// Other operators written as words: `DIV`, `MOD`, `COLLATE`, `ESCAPE`, `SOUNDS`.
    Operator,
    /// Literal values written as words: `NULL`, `TRUE`, `CURRENT_USER`, ...
    Literal,
    /// Prefix operators: `BINARY`, `DISTINCT`, `EXISTS`, `ALL`, `ANY`, `SOME`, `INTERVAL`, `TOP`.
    Prefix,
    /// `CASE`.
    Case,
    /// `WHEN`, `THEN`, `ELSE`.
    CaseArm,
    /// `END`.
    End,
    /// `FROM`.
    From,
    /// `WHERE`, `HAVING`.
    Filter,
    /// `ORDER`, `GROUP`.
    Sort,
    /// `BY`.
    By,
    /// `LIMIT`, `OFFSET`, `FETCH`.
    Limit,
    /// `INTO`.
    Into,
    /// `PROCEDURE` (MySQL `PROCEDURE ANALYSE`).
    Procedure,
    /// `FOR` (`FOR UPDATE`, `FOR XML`).
    For,
    /// `AS`.
    As,
    /// `ASC`, `DESC`.
    Direction,
    /// Join keywords and `ON` / `USING`.
    Join,
}

/// A statement keyword that starts a stacked query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stmt {
    /// `INSERT`, `REPLACE`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `DROP`, `CREATE`, `ALTER`, `TRUNCATE`, `RENAME`.
    Ddl,
    /// `EXEC`, `EXECUTE`, `CALL`.
    Exec,
    /// `DECLARE`.
    Declare,
    /// `SET`.
    Set,
    /// `SHUTDOWN`.
    Shutdown,
    /// `WAITFOR`.
    Waitfor,
    /// `IF`.
    If,
    /// `GRANT`, `REVOKE`.
    Grant,
    /// `LOAD`, `COPY`, `HANDLER`, `BACKUP`, `RESTORE`, `KILL`, `USE`, `SHOW`, `PRINT`, `BEGIN`.
    Other,
}

/// Classify a word (any case).
pub(crate) fn keyword(word: &[u8]) -> Kw {
    let mut buf = [0u8; 32];
    lower_bytes_into(word, &mut buf).map_or(Kw::Plain, keyword_lower)
}

/// [`keyword`] of a lower-case word.
fn keyword_lower(w: &[u8]) -> Kw {
    match w {
        b"union" => Kw::Union,
        b"select" => Kw::Select,
        b"insert" | b"replace" => Kw::Statement(Stmt::Insert),
        b"update" => Kw::Statement(Stmt::Update),
        b"delete" => Kw::Statement(Stmt::Delete),
        b"drop" | b"create" | b"alter" | b"truncate" | b"rename" => Kw::Statement(Stmt::Ddl),
        b"exec" | b"execute" | b"call" => Kw::Statement(Stmt::Exec),
        b"declare" => Kw::Statement(Stmt::Declare),
        b"set" => Kw::Statement(Stmt::Set),
        b"shutdown" => Kw::Statement(Stmt::Shutdown),
        b"waitfor" => Kw::Statement(Stmt::Waitfor),
        b"if" => Kw::Statement(Stmt::If),
        b"grant" | b"revoke" => Kw::Statement(Stmt::Grant),
        b"load" | b"copy" | b"handler" | b"backup" | b"restore" | b"kill" | b"use" | b"show"
        | b"print" | b"begin" | b"while" => Kw::Statement(Stmt::Other),
        b"and" | b"or" | b"xor" => Kw::Logic,
        b"not" => Kw::Not,
        b"like" | b"ilike" | b"rlike" | b"regexp" | b"similar" | b"glob" | b"is" | b"in"
        | b"between" | b"match" | b"member" => Kw::Compare,
        b"div" | b"mod" | b"collate" | b"escape" | b"sounds" | b"against" => Kw::Operator,
        b"null" | b"true" | b"false" | b"unknown" | b"current_date" | b"current_time"
        | b"current_timestamp" | b"current_user" | b"localtime" | b"localtimestamp"
        | b"session_user" | b"system_user" | b"sysdate" | b"utc_date" | b"utc_time"
        | b"utc_timestamp" | b"rownum" | b"level" | b"default" => Kw::Literal,
        b"binary"
        | b"distinct"
        | b"exists"
        | b"all"
        | b"any"
        | b"some"
        | b"interval"
        | b"top"
        | b"distinctrow"
        | b"straight_join"
        | b"sql_calc_found_rows"
        | b"high_priority" => Kw::Prefix,
        b"case" => Kw::Case,
        b"when" | b"then" | b"else" => Kw::CaseArm,
        b"end" => Kw::End,
        b"from" => Kw::From,
        b"where" | b"having" => Kw::Filter,
        b"order" | b"group" => Kw::Sort,
        b"by" => Kw::By,
        b"limit" | b"offset" | b"fetch" => Kw::Limit,
        b"into" => Kw::Into,
        b"procedure" => Kw::Procedure,
        b"for" => Kw::For,
        b"as" => Kw::As,
        b"asc" | b"desc" => Kw::Direction,
        b"join" | b"inner" | b"outer" | b"left" | b"right" | b"cross" | b"natural" | b"on"
        | b"using" => Kw::Join,
        _ => Kw::Plain,
    }
}

impl Kw {
    /// Whether this keyword becomes a function name when directly followed by `(`
    /// (`IF(`, `LEFT(`, `CHAR(`, `REPLACE(`, `DATABASE(`, ...).
    pub(crate) fn callable(self) -> bool {
        matches!(
            self,
            Kw::Plain
                | Kw::Literal
                | Kw::Statement(Stmt::If | Stmt::Insert)
                | Kw::Join
                | Kw::Operator
                | Kw::Statement(Stmt::Ddl)
        )
    }
}

/// How telling a call to a known function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FnClass {
    /// Not a function any dialect ships.
    Unknown,
    /// A built-in used in ordinary queries (`CONCAT`, `SUBSTRING`, `COS`, ...).
    Builtin,
    /// Reveals the server (`VERSION()`, `DATABASE()`, `USER()`, ...).
    Info,
    /// Only useful to an attacker: delays, file and network access, error-based extraction.
    Attack,
}

/// How telling a call of a function of this name is (a lower-case name, the last component
/// of a dotted one).
fn function_lower(f: &[u8]) -> FnClass {
    match f {
        // Delays (blind injection).
        b"sleep" | b"benchmark" | b"pg_sleep" | b"pg_sleep_for" | b"pg_sleep_until" | b"randomblob"
        | b"receive_message"
        // Files, commands and the network.
        | b"load_file" | b"xp_cmdshell" | b"xp_dirtree" | b"xp_fileexist" | b"xp_regread"
        | b"sp_oacreate" | b"sp_oamethod" | b"openrowset" | b"opendatasource" | b"get_host_address"
        | b"get_host_name" | b"httpuritype" | b"lo_import" | b"lo_export" | b"pg_read_file"
        | b"pg_read_binary_file" | b"pg_ls_dir" | b"sys_eval" | b"sys_exec" | b"dblink"
        | b"dblink_connect" | b"utl_http" | b"utl_inaddr" | b"make_request"
        // Error-based extraction.
        | b"extractvalue" | b"updatexml" | b"name_const" | b"gtid_subset" | b"gtid_subtract"
        | b"st_latfromgeohash" | b"st_longfromgeohash" | b"st_pointfromgeohash"
        | b"geometrycollection" | b"multipoint" | b"multipolygon" | b"multilinestring"
        | b"linestring" | b"polygon" | b"drithsx" | b"sqlid_to_sqlhash" | b"getxml" => FnClass::Attack,
        b"version" | b"database" | b"schema" | b"user" | b"current_user" | b"system_user"
        | b"session_user" | b"sqlite_version" | b"connection_id" | b"last_insert_id"
        | b"db_name" | b"host_name" | b"suser_name" | b"suser_sname" | b"user_name"
        | b"is_srvrolemember" | b"has_dbaccess" | b"current_database" | b"current_schema"
        | b"sys_context" | b"pg_backend_pid" | b"inet_server_addr" | b"serverproperty"
        | b"object_name" | b"object_id" | b"col_name" | b"db_id" | b"sysdate" => FnClass::Info,
        b"char" | b"chr" | b"nchar" | b"concat" | b"concat_ws" | b"group_concat" | b"string_agg"
        | b"listagg" | b"hex" | b"unhex" | b"ascii" | b"ord" | b"substring" | b"substr" | b"mid"
        | b"left" | b"right" | b"length" | b"len" | b"char_length" | b"cast" | b"convert" | b"if"
        | b"iif" | b"ifnull" | b"isnull" | b"nullif" | b"coalesce" | b"decode" | b"instr"
        | b"locate" | b"position" | b"replace" | b"reverse" | b"lower" | b"upper" | b"lcase"
        | b"ucase" | b"md5" | b"sha" | b"sha1" | b"sha2" | b"rand" | b"random" | b"floor" | b"ceil"
        | b"ceiling" | b"round" | b"count" | b"min" | b"max" | b"sum" | b"avg" | b"bin" | b"conv"
        | b"elt" | b"field" | b"make_set" | b"export_set" | b"soundex" | b"lpad" | b"rpad" | b"space"
        | b"repeat" | b"strcmp" | b"cos" | b"sin" | b"tan" | b"cot" | b"pi" | b"abs" | b"exp" | b"ln"
        | b"log" | b"pow" | b"power" | b"sqrt" | b"greatest" | b"least" | b"json_extract"
        | b"json_depth" | b"json_keys" | b"xmlagg" | b"xmlelement" | b"xmltype" | b"rawtohex"
        | b"to_char" | b"to_number" | b"nvl" | b"nvl2" | b"trim" | b"ltrim" | b"rtrim" | b"now"
        | b"curdate" | b"datediff" | b"benchmark_" | b"uuid" | b"crc32" | b"compress"
        | b"uncompress" | b"aes_encrypt" | b"aes_decrypt" | b"encode" | b"des_encrypt"
        | b"from_base64" | b"to_base64" | b"quote" | b"unicode" | b"typeof" | b"zeroblob"
        | b"char_ascii" | b"row" | b"exists" | b"regexp_substr" | b"regexp_like" | b"utl_raw"
        | b"cast_to_varchar2" | b"dbms_random" | b"value" | b"string" | b"format" | b"insert"
        | b"extract" | b"stuff" | b"charindex" | b"patindex" | b"datalength" | b"str"
        | b"binary_checksum" | b"checksum" | b"newid" | b"getdate" | b"sysdatetime"
        | b"collation" | b"charset" | b"coercibility" | b"found_rows" | b"row_count"
        | b"weight_string" | b"octet_length" | b"bit_length" | b"bit_count" | b"mod" => {
            FnClass::Builtin
        }
        _ => FnClass::Unknown,
    }
}

/// Whether a word names a catalog only an attacker enumerates (`information_schema`, ...).
pub(crate) fn system_catalog(word: &[u8]) -> bool {
    let mut buf = [0u8; 32];
    lower_bytes_into(word, &mut buf).is_some_and(system_catalog_lower)
}

/// [`system_catalog`] of a lower-case word.
fn system_catalog_lower(w: &[u8]) -> bool {
    matches!(
        w,
        b"information_schema"
            | b"sysobjects"
            | b"syscolumns"
            | b"sysusers"
            | b"sysdatabases"
            | b"sysprocesses"
            | b"sysxlogins"
            | b"pg_catalog"
            | b"pg_shadow"
            | b"pg_user"
            | b"pg_database"
            | b"pg_tables"
            | b"sqlite_master"
            | b"sqlite_schema"
            | b"sqlite_temp_master"
            | b"all_tables"
            | b"all_tab_columns"
            | b"user_tables"
            | b"user_tab_columns"
            | b"dba_users"
            | b"all_users"
            | b"v$version"
            | b"msysobjects"
            | b"msysaccessobjects"
            | b"mysql.user"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_classify_in_any_case() {
        assert_eq!(keyword(b"UnIoN"), Kw::Union);
        assert_eq!(keyword(b"selected"), Kw::Plain);
        assert_eq!(keyword(b"OR"), Kw::Logic);
        assert_eq!(classify(b"PG_SLEEP").function, FnClass::Attack);
        assert_eq!(classify(b"version").function, FnClass::Info);
        assert_eq!(classify(b"concat").function, FnClass::Builtin);
        assert_eq!(classify(b"alert").function, FnClass::Unknown);
        assert!(system_catalog(b"INFORMATION_SCHEMA"));
        let left = classify(b"LEFT");
        assert_eq!((left.kw, left.function), (Kw::Join, FnClass::Builtin));
        assert!(classify(b"SysObjects").catalog);
        assert_eq!(
            classify(b"a_word_longer_than_thirty_two_bytes"),
            WordClass::NONE
        );
    }
}
