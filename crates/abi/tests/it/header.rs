//! `include/hookyard.h` and the Rust definitions agree.
//!
//! Two checks, both failing on the first difference they find anywhere:
//!
//! 1. Completeness: the header is parsed for every `HY_` constant, structure (with its fields in
//!    order), type alias, opaque handle and entry-point prototype; the names must be exactly
//!    those [`hookyard_abi::layout`] lists, which the Rust macros record as they define them.
//! 2. Values: a C program generated from the Rust lists is compiled against the header and run.
//!    It prints every constant's value, every structure's size and alignment, every field's
//!    offset and size, and — with GCC's `__builtin_types_compatible_p` — whether each field,
//!    alias and entry point has the C type the Rust type translates to. Its output must equal
//!    what Rust expects, line for line.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::process::Command;

use hookyard_abi::layout;

use crate::support::{cc, crate_dir};

fn header() -> String {
    fs::read_to_string(crate_dir().join("include/hookyard.h")).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Parsing the header
// ---------------------------------------------------------------------------------------------

/// What the header declares, by name.
#[derive(Debug, Default)]
struct Declared {
    constants: BTreeSet<String>,
    /// (struct name, field names in order)
    structs: Vec<(String, Vec<String>)>,
    aliases: BTreeSet<String>,
    opaque: BTreeSet<String>,
    prototypes: BTreeSet<String>,
}

/// Removes comments and joins continued lines.
fn strip(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("unterminated comment") + start + 2;
        rest = &rest[end..];
    }
    out.push_str(rest);
    out.replace("\\\n", " ")
}

fn last_identifier(decl: &str) -> String {
    let decl = decl.split('[').next().unwrap();
    decl.rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
        .find(|s| !s.is_empty())
        .unwrap()
        .to_owned()
}

/// The declared name: `(*name)` for function pointers, else the last identifier.
fn declared_name(decl: &str) -> String {
    match decl.find("(*") {
        Some(start) => {
            let rest = &decl[start + 2..];
            rest[..rest.find(')').unwrap()].trim().to_owned()
        }
        None => last_identifier(decl),
    }
}

fn parse(text: &str) -> Declared {
    let text = strip(text);
    let mut declared = Declared::default();
    let mut code = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(define) = line.strip_prefix("#define ") {
            let name: String =
                define.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let function_like = define[name.len()..].starts_with('(');
            if name.starts_with("HY_") && !function_like && name != "HY_EXPORT" {
                declared.constants.insert(name);
            }
        } else if !line.starts_with('#') {
            code.push_str(line);
            code.push('\n');
        }
    }
    let mut rest = code.as_str();
    while let Some(start) = rest.find("typedef struct ") {
        let head_end = start + rest[start..].find(['{', ';']).unwrap();
        let head = &rest[start + "typedef struct ".len()..head_end];
        if rest.as_bytes()[head_end] == b';' {
            // `typedef struct hy_txn hy_txn;`
            declared.opaque.insert(head.split_whitespace().next().unwrap().to_owned());
            rest = &rest[head_end + 1..];
            continue;
        }
        let name = head.trim().to_owned();
        let body_end = head_end + rest[head_end..].find('}').unwrap();
        let fields = rest[head_end + 1..body_end]
            .split(';')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(declared_name)
            .collect();
        let close = &rest[body_end..];
        let close_end = close.find(';').unwrap();
        assert_eq!(
            close[1..close_end].trim(),
            name,
            "the typedef name of struct {name} differs from its tag"
        );
        declared.structs.push((name, fields));
        rest = &close[close_end + 1..];
    }
    // What remains outside the structures: statements of scalar and function typedefs,
    // prototypes, the descriptor's declaration and C++ guards.
    let outside: String = {
        let mut out = String::new();
        let mut depth = 0;
        let mut skipping = code.as_str();
        // Drop structure bodies already parsed.
        while let Some(start) = skipping.find("typedef struct ") {
            out.push_str(&skipping[..start]);
            let after = &skipping[start..];
            let end = match after.find('{') {
                Some(brace) if brace < after.find(';').unwrap() => {
                    let mut end = brace;
                    for (i, c) in after[brace..].char_indices() {
                        match c {
                            '{' => depth += 1,
                            '}' => {
                                depth -= 1;
                                if depth == 0 {
                                    end = brace + i;
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    end + after[end..].find(';').unwrap() + 1
                }
                _ => after.find(';').unwrap() + 1,
            };
            skipping = &after[end..];
        }
        out.push_str(skipping);
        out
    };
    for statement in outside.split(';').map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
    {
        let statement =
            statement.trim_start_matches("extern \"C\" {").trim_start_matches('}').trim();
        if let Some(typedef) = statement.strip_prefix("typedef ") {
            declared.aliases.insert(declared_name(typedef));
        } else if let Some(prototype) = statement.strip_prefix("HY_EXPORT ") {
            let name_end = prototype.find('(').unwrap();
            declared.prototypes.insert(last_identifier(&prototype[..name_end]));
        }
    }
    declared
}

#[test]
fn the_header_declares_exactly_what_rust_defines() {
    let declared = parse(&header());
    let set = |names: Vec<&str>| names.into_iter().map(str::to_owned).collect::<BTreeSet<_>>();
    let mut problems = Vec::new();
    let mut compare = |what: &str, header: &BTreeSet<String>, rust: BTreeSet<String>| {
        for missing in rust.difference(header) {
            problems.push(format!("{what} `{missing}` is defined in Rust but not in the header"));
        }
        for extra in header.difference(&rust) {
            problems.push(format!("{what} `{extra}` is in the header but not defined in Rust"));
        }
    };
    compare(
        "constant",
        &declared.constants,
        set(layout::constants().iter().map(|c| c.name).collect()),
    );
    compare(
        "type alias",
        &declared.aliases,
        set(layout::aliases().iter().map(|a| a.name).collect()),
    );
    compare("opaque type", &declared.opaque, set(layout::opaque_types()));
    compare(
        "entry point",
        &declared.prototypes,
        set(layout::entry_points().iter().map(|e| e.symbol).collect()),
    );
    compare(
        "structure",
        &declared.structs.iter().map(|(n, _)| n.clone()).collect(),
        set(layout::structs().iter().map(|s| s.name).collect()),
    );
    for (name, fields) in &declared.structs {
        if let Some(rust) = layout::structs().into_iter().find(|s| s.name == name) {
            let rust: Vec<&str> = rust.fields.iter().map(|f| f.name).collect();
            if *fields != rust {
                problems.push(format!(
                    "structure `{name}` has fields {fields:?} in the header, {rust:?} in Rust"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "header and Rust disagree:\n{}", problems.join("\n"));
    // The parse itself found something of every kind (a parser gone blind would pass above).
    assert!(declared.constants.len() > 70, "{:?}", declared.constants);
    assert_eq!(declared.structs.len(), 7);
    assert!(declared.structs.iter().any(|(n, f)| n == "hy_api" && f.len() > 40));
    assert_eq!(declared.prototypes.len(), 12);
}

#[test]
fn the_parser_sees_a_missing_or_extra_item() {
    let good = parse(&header());
    let edited = header().replace("#define HY_LOG_TRACE 5\n", "").replace(
        "    int32_t enabled;\n} hy_callback_info;",
        "    int32_t enabled;\n    int32_t more;\n} hy_callback_info;",
    );
    let bad = parse(&edited);
    assert!(good.constants.contains("HY_LOG_TRACE") && !bad.constants.contains("HY_LOG_TRACE"));
    let fields =
        |d: &Declared| d.structs.iter().find(|(n, _)| n == "hy_callback_info").unwrap().1.clone();
    assert_eq!(fields(&bad).len(), fields(&good).len() + 1);
    assert_eq!(fields(&good).last().unwrap(), "enabled");
    let api = good.structs.iter().find(|(n, _)| n == "hy_api").unwrap();
    assert_eq!(api.1[..4], ["size", "version", "plugin", "log_enabled"]);
}

// ---------------------------------------------------------------------------------------------
// Translating Rust types to C
// ---------------------------------------------------------------------------------------------

/// Tokens of a Rust type as `stringify!` writes it.
fn tokens(ty: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = ty.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '"' => {
                let mut lit = String::from('"');
                for c in chars.by_ref() {
                    lit.push(c);
                    if c == '"' {
                        break;
                    }
                }
                out.push(lit);
            }
            '-' if chars.peek() == Some(&'>') => {
                chars.next();
                out.push("->".into());
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut ident = String::from(c);
                while let Some(&c) = chars.peek() {
                    if !(c.is_alphanumeric() || c == '_') {
                        break;
                    }
                    ident.push(c);
                    chars.next();
                }
                out.push(ident);
            }
            c => out.push(c.to_string()),
        }
    }
    out
}

struct Parser {
    tokens: Vec<String>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> &str {
        self.tokens.get(self.at).map_or("", String::as_str)
    }

    fn next(&mut self) -> String {
        let t = self.peek().to_owned();
        self.at += 1;
        t
    }

    fn expect(&mut self, want: &str) {
        let got = self.next();
        assert_eq!(got, want, "in {:?}", self.tokens);
    }

    /// One type, rendered as a C type name (east const: `char const *`).
    fn ty(&mut self) -> String {
        match self.peek() {
            "*" => {
                self.next();
                let qualifier = self.next();
                let inner = self.ty();
                match qualifier.as_str() {
                    "const" => format!("{inner} const *"),
                    "mut" => format!("{inner} *"),
                    q => panic!("unexpected pointer qualifier {q}"),
                }
            }
            "unsafe" | "extern" => {
                if self.peek() == "unsafe" {
                    self.next();
                }
                self.expect("extern");
                self.expect("\"C\"");
                self.expect("fn");
                self.expect("(");
                let mut params = Vec::new();
                while self.peek() != ")" {
                    if self.tokens.get(self.at + 1).is_some_and(|t| t == ":") {
                        self.at += 2; // a parameter name
                    }
                    params.push(self.ty());
                    if self.peek() == "," {
                        self.next();
                    }
                }
                self.expect(")");
                let ret = if self.peek() == "->" {
                    self.next();
                    self.ty()
                } else {
                    "void".to_owned()
                };
                let params = if params.is_empty() { "void".to_owned() } else { params.join(", ") };
                format!("{ret} (*)({params})")
            }
            "Option" => {
                // `Option<fn>`: a nullable function pointer, spelled as the pointer in C.
                self.next();
                self.expect("<");
                let inner = self.ty();
                self.expect(">");
                inner
            }
            _ => {
                let name = self.next();
                match name.as_str() {
                    "i8" => "int8_t",
                    "u8" => "uint8_t",
                    "i16" => "int16_t",
                    "u16" => "uint16_t",
                    "i32" => "int32_t",
                    "u32" => "uint32_t",
                    "i64" => "int64_t",
                    "u64" => "uint64_t",
                    "usize" => "size_t",
                    "c_char" => "char",
                    "c_void" => "void",
                    "c_int" => "int",
                    other => {
                        assert!(other.starts_with("hy_"), "no C spelling for Rust type `{other}`");
                        other
                    }
                }
                .to_owned()
            }
        }
    }
}

/// The C type name for a Rust type as `stringify!` wrote it.
fn c_type(rust: &str) -> String {
    let mut parser = Parser { tokens: tokens(rust), at: 0 };
    let ty = parser.ty();
    assert_eq!(parser.at, parser.tokens.len(), "trailing tokens in `{rust}`");
    ty
}

#[test]
fn rust_types_translate_to_c() {
    assert_eq!(c_type("*const c_char"), "char const *");
    assert_eq!(c_type("*mut *const c_char"), "char const * *");
    assert_eq!(c_type("unsafe extern \"C\" fn()"), "void (*)(void)");
    assert_eq!(
        c_type(
            "unsafe extern \"C\" fn(this: *mut hy_plugin, handler: hy_cont_handler, data: *mut c_void) -> *mut hy_cont"
        ),
        "hy_cont * (*)(hy_plugin *, hy_cont_handler, void *)"
    );
}

// ---------------------------------------------------------------------------------------------
// The generated C program
// ---------------------------------------------------------------------------------------------

/// The program's source, and the output Rust expects from it.
fn program() -> (String, String) {
    let mut c = String::from(
        "#include <stdio.h>\n#include <hookyard.h>\n\n#define COMPAT(a, b) __builtin_types_compatible_p(a, b)\n\nint main(void) {\n",
    );
    let mut expected = String::new();
    for k in layout::constants() {
        writeln!(c, "    printf(\"const {0} %lld\\n\", (long long)({0}));", k.name).unwrap();
        writeln!(expected, "const {} {}", k.name, k.value).unwrap();
    }
    for s in layout::structs() {
        writeln!(
            c,
            "    printf(\"struct {0} size %zu align %zu\\n\", sizeof({0}), _Alignof({0}));",
            s.name
        )
        .unwrap();
        writeln!(expected, "struct {} size {} align {}", s.name, s.size, s.align).unwrap();
        for f in s.fields {
            let ty = c_type(f.ty);
            writeln!(
                c,
                "    printf(\"field {0}.{1} offset %zu size %zu type %d\\n\", offsetof({0}, {1}), sizeof((({0} *)0)->{1}), COMPAT(__typeof__((({0} *)0)->{1}), {2}));",
                s.name, f.name, ty
            )
            .unwrap();
            writeln!(
                expected,
                "field {}.{} offset {} size {} type 1",
                s.name, f.name, f.offset, f.size
            )
            .unwrap();
        }
    }
    for a in layout::aliases() {
        writeln!(
            c,
            "    printf(\"alias {0} type %d\\n\", COMPAT({0}, {1}));",
            a.name,
            c_type(a.ty)
        )
        .unwrap();
        writeln!(expected, "alias {} type 1", a.name).unwrap();
    }
    for o in layout::opaque_types() {
        writeln!(c, "    printf(\"opaque {0} %zu\\n\", sizeof({0} *));", o).unwrap();
        writeln!(expected, "opaque {o} {}", size_of::<*const u8>()).unwrap();
    }
    for e in layout::entry_points() {
        writeln!(
            c,
            "    printf(\"entry {0} type %d\\n\", COMPAT(__typeof__(&{0}), {1}));",
            e.symbol, e.ty
        )
        .unwrap();
        writeln!(expected, "entry {} type 1", e.symbol).unwrap();
    }
    c.push_str("    return 0;\n}\n");
    (c, expected)
}

fn run_program(source: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("agreement.c");
    let exe = tmp.path().join("agreement");
    fs::write(&src, source).unwrap();
    cc(&[
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-o",
        exe.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    let output = Command::new(&exe).output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

fn differences(actual: &str, expected: &str) -> Vec<String> {
    let actual: BTreeSet<&str> = actual.lines().collect();
    let expected: BTreeSet<&str> = expected.lines().collect();
    let mut out: Vec<String> =
        expected.difference(&actual).map(|l| format!("Rust expects: {l}")).collect();
    out.extend(actual.difference(&expected).map(|l| format!("C reports:    {l}")));
    out
}

#[test]
fn constants_layouts_and_function_types_agree_with_the_header() {
    let (source, expected) = program();
    let actual = run_program(&source);
    let diff = differences(&actual, &expected);
    assert!(diff.is_empty(), "hookyard.h and the Rust definitions disagree:\n{}", diff.join("\n"));
    assert_eq!(actual.lines().count(), expected.lines().count());
    assert!(actual.contains("field hy_api.callback_remove offset"), "{actual}");
}

#[test]
fn the_program_catches_a_changed_value_layout_or_type() {
    let (source, expected) = program();
    // The same program against a header with one constant, one field type and one parameter
    // changed: each must show up as a difference.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let include = dir.join("include");
    fs::create_dir(&include).unwrap();
    let changed = header()
        .replace("#define HY_HOOK_POST_REMAP 15", "#define HY_HOOK_POST_REMAP 16")
        .replace("    uint16_t abi_minor;", "    uint32_t abi_minor;")
        .replace(
            "void (*cont_destroy)(hy_cont *cont);",
            "void (*cont_destroy)(hy_cont *cont, int now);",
        );
    fs::write(include.join("hookyard.h"), changed).unwrap();
    let src = dir.join("agreement.c");
    let exe = dir.join("agreement");
    fs::write(
        &src,
        source.replace(
            "#include <hookyard.h>",
            &format!("#include \"{}/hookyard.h\"", include.display()),
        ),
    )
    .unwrap();
    cc(&["-std=gnu11", "-o", exe.to_str().unwrap(), src.to_str().unwrap()]);
    let actual = String::from_utf8(Command::new(&exe).output().unwrap().stdout).unwrap();
    let diff = differences(&actual, &expected).join("\n");
    assert!(diff.contains("C reports:    const HY_HOOK_POST_REMAP 16"), "{diff}");
    assert!(
        diff.contains("C reports:    field hy_descriptor.abi_minor offset 8 size 4 type 0"),
        "{diff}"
    );
    assert!(diff.contains("C reports:    field hy_api.cont_destroy offset"), "{diff}");
    assert!(diff.contains("C reports:    struct hy_descriptor size 40"), "{diff}");
}

#[test]
fn the_header_compiles_under_strict_warnings_with_every_entry_point_defined() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("strict.so");
    let source = crate_dir().join("tests/c/strict.c");
    for std in ["-std=c99", "-std=c11", "-std=c17"] {
        cc(&[
            std,
            "-pedantic-errors",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-Wstrict-prototypes",
            "-Wmissing-prototypes",
            "-fvisibility=hidden",
            "-shared",
            "-fPIC",
            "-o",
            out.to_str().unwrap(),
            source.to_str().unwrap(),
        ]);
    }
}
