//! What SQL words mean: keyword classes and the functions attackers call.

use crate::detect::ascii::lower_into;

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
    let Some(w) = lower_into(word, &mut buf) else {
        return Kw::Plain;
    };
    match w {
        "union" => Kw::Union,
        "select" => Kw::Select,
        "insert" | "replace" => Kw::Statement(Stmt::Insert),
        "update" => Kw::Statement(Stmt::Update),
        "delete" => Kw::Statement(Stmt::Delete),
        "drop" | "create" | "alter" | "truncate" | "rename" => Kw::Statement(Stmt::Ddl),
        "exec" | "execute" | "call" => Kw::Statement(Stmt::Exec),
        "declare" => Kw::Statement(Stmt::Declare),
        "set" => Kw::Statement(Stmt::Set),
        "shutdown" => Kw::Statement(Stmt::Shutdown),
        "waitfor" => Kw::Statement(Stmt::Waitfor),
        "if" => Kw::Statement(Stmt::If),
        "grant" | "revoke" => Kw::Statement(Stmt::Grant),
        "load" | "copy" | "handler" | "backup" | "restore" | "kill" | "use" | "show" | "print"
        | "begin" | "while" => Kw::Statement(Stmt::Other),
        "and" | "or" | "xor" => Kw::Logic,
        "not" => Kw::Not,
        "like" | "ilike" | "rlike" | "regexp" | "similar" | "glob" | "is" | "in" | "between"
        | "match" | "member" => Kw::Compare,
        "div" | "mod" | "collate" | "escape" | "sounds" | "against" => Kw::Operator,
        "null" | "true" | "false" | "unknown" | "current_date" | "current_time"
        | "current_timestamp" | "current_user" | "localtime" | "localtimestamp"
        | "session_user" | "system_user" | "sysdate" | "utc_date" | "utc_time"
        | "utc_timestamp" | "rownum" | "level" | "default" => Kw::Literal,
        "binary"
        | "distinct"
        | "exists"
        | "all"
        | "any"
        | "some"
        | "interval"
        | "top"
        | "distinctrow"
        | "straight_join"
        | "sql_calc_found_rows"
        | "high_priority" => Kw::Prefix,
        "case" => Kw::Case,
        "when" | "then" | "else" => Kw::CaseArm,
        "end" => Kw::End,
        "from" => Kw::From,
        "where" | "having" => Kw::Filter,
        "order" | "group" => Kw::Sort,
        "by" => Kw::By,
        "limit" | "offset" | "fetch" => Kw::Limit,
        "into" => Kw::Into,
        "procedure" => Kw::Procedure,
        "for" => Kw::For,
        "as" => Kw::As,
        "asc" | "desc" => Kw::Direction,
        "join" | "inner" | "outer" | "left" | "right" | "cross" | "natural" | "on" | "using" => {
            Kw::Join
        }
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

/// Classify a function name (the last component of a dotted name, any case).
pub(crate) fn function(name: &[u8]) -> FnClass {
    let mut buf = [0u8; 32];
    let Some(f) = lower_into(name, &mut buf) else {
        return FnClass::Unknown;
    };
    match f {
        // Delays (blind injection).
        "sleep" | "benchmark" | "pg_sleep" | "pg_sleep_for" | "pg_sleep_until" | "randomblob"
        | "receive_message"
        // Files, commands and the network.
        | "load_file" | "xp_cmdshell" | "xp_dirtree" | "xp_fileexist" | "xp_regread"
        | "sp_oacreate" | "sp_oamethod" | "openrowset" | "opendatasource" | "get_host_address"
        | "get_host_name" | "httpuritype" | "lo_import" | "lo_export" | "pg_read_file"
        | "pg_read_binary_file" | "pg_ls_dir" | "sys_eval" | "sys_exec" | "dblink"
        | "dblink_connect" | "utl_http" | "utl_inaddr" | "make_request"
        // Error-based extraction.
        | "extractvalue" | "updatexml" | "name_const" | "gtid_subset" | "gtid_subtract"
        | "st_latfromgeohash" | "st_longfromgeohash" | "st_pointfromgeohash"
        | "geometrycollection" | "multipoint" | "multipolygon" | "multilinestring"
        | "linestring" | "polygon" | "drithsx" | "sqlid_to_sqlhash" | "getxml" => FnClass::Attack,
        "version" | "database" | "schema" | "user" | "current_user" | "system_user"
        | "session_user" | "sqlite_version" | "connection_id" | "last_insert_id"
        | "db_name" | "host_name" | "suser_name" | "suser_sname" | "user_name"
        | "is_srvrolemember" | "has_dbaccess" | "current_database" | "current_schema"
        | "sys_context" | "pg_backend_pid" | "inet_server_addr" | "serverproperty"
        | "object_name" | "object_id" | "col_name" | "db_id" | "sysdate" => FnClass::Info,
        "char" | "chr" | "nchar" | "concat" | "concat_ws" | "group_concat" | "string_agg"
        | "listagg" | "hex" | "unhex" | "ascii" | "ord" | "substring" | "substr" | "mid"
        | "left" | "right" | "length" | "len" | "char_length" | "cast" | "convert" | "if"
        | "iif" | "ifnull" | "isnull" | "nullif" | "coalesce" | "decode" | "instr"
        | "locate" | "position" | "replace" | "reverse" | "lower" | "upper" | "lcase"
        | "ucase" | "md5" | "sha" | "sha1" | "sha2" | "rand" | "random" | "floor" | "ceil"
        | "ceiling" | "round" | "count" | "min" | "max" | "sum" | "avg" | "bin" | "conv"
        | "elt" | "field" | "make_set" | "export_set" | "soundex" | "lpad" | "rpad" | "space"
        | "repeat" | "strcmp" | "cos" | "sin" | "tan" | "cot" | "pi" | "abs" | "exp" | "ln"
        | "log" | "pow" | "power" | "sqrt" | "greatest" | "least" | "json_extract"
        | "json_depth" | "json_keys" | "xmlagg" | "xmlelement" | "xmltype" | "rawtohex"
        | "to_char" | "to_number" | "nvl" | "nvl2" | "trim" | "ltrim" | "rtrim" | "now"
        | "curdate" | "datediff" | "benchmark_" | "uuid" | "crc32" | "compress"
        | "uncompress" | "aes_encrypt" | "aes_decrypt" | "encode" | "des_encrypt"
        | "from_base64" | "to_base64" | "quote" | "unicode" | "typeof" | "zeroblob"
        | "char_ascii" | "row" | "exists" | "regexp_substr" | "regexp_like" | "utl_raw"
        | "cast_to_varchar2" | "dbms_random" | "value" | "string" | "format" | "insert"
        | "extract" | "stuff" | "charindex" | "patindex" | "datalength" | "str"
        | "binary_checksum" | "checksum" | "newid" | "getdate" | "sysdatetime"
        | "collation" | "charset" | "coercibility" | "found_rows" | "row_count"
        | "weight_string" | "octet_length" | "bit_length" | "bit_count" | "mod" => {
            FnClass::Builtin
        }
        _ => FnClass::Unknown,
    }
}

/// Whether a word names a catalog only an attacker enumerates (`information_schema`, ...).
pub(crate) fn system_catalog(word: &[u8]) -> bool {
    let mut buf = [0u8; 32];
    let Some(w) = lower_into(word, &mut buf) else {
        return false;
    };
    matches!(
        w,
        "information_schema"
            | "sysobjects"
            | "syscolumns"
            | "sysusers"
            | "sysdatabases"
            | "sysprocesses"
            | "sysxlogins"
            | "pg_catalog"
            | "pg_shadow"
            | "pg_user"
            | "pg_database"
            | "pg_tables"
            | "sqlite_master"
            | "sqlite_schema"
            | "sqlite_temp_master"
            | "all_tables"
            | "all_tab_columns"
            | "user_tables"
            | "user_tab_columns"
            | "dba_users"
            | "all_users"
            | "v$version"
            | "msysobjects"
            | "msysaccessobjects"
            | "mysql.user"
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
        assert_eq!(function(b"PG_SLEEP"), FnClass::Attack);
        assert_eq!(function(b"version"), FnClass::Info);
        assert_eq!(function(b"concat"), FnClass::Builtin);
        assert_eq!(function(b"alert"), FnClass::Unknown);
        assert!(system_catalog(b"INFORMATION_SCHEMA"));
    }
}
