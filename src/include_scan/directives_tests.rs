use super::*;

fn names(src: &str) -> Vec<String> {
    parse(src.as_bytes())
        .includes
        .iter()
        .map(|i| {
            let kind = match i.kind {
                Kind::Include => "",
                Kind::IncludeNext => "next ",
                Kind::Import => "import ",
                Kind::Embed => "embed ",
                Kind::HasInclude => "has ",
                Kind::HasIncludeNext => "has_next ",
            };
            let operand = match &i.operand {
                Operand::Quoted(n) => format!("\"{}\"", String::from_utf8_lossy(n)),
                Operand::Angled(n) => format!("<{}>", String::from_utf8_lossy(n)),
                Operand::Computed(t) => format!("={t}"),
            };
            format!("{kind}{operand}")
        })
        .collect()
}

#[test]
fn plain_includes_in_every_form_are_found() {
    let src = "#include <stdio.h>\n  #  include \"a.h\"\n#include_next <b.h>\n#import \"c.h\"\n\
               %:include <d.h>\n#\tinclude\t<e.h> // why\n#include \"f.h\" /* c */\n#embed \"data.bin\"\n";
    assert_eq!(
        names(src),
        [
            "<stdio.h>",
            "\"a.h\"",
            "next <b.h>",
            "import \"c.h\"",
            "<d.h>",
            "<e.h>",
            "\"f.h\"",
            "embed \"data.bin\""
        ]
    );
}

#[test]
fn includes_in_every_conditional_branch_count() {
    let src = "#if 0\n#include \"never.h\"\n#elif defined(X)\n#include <x.h>\n#else\n\
               #include \"other.h\"\n#endif\n#ifdef WIN32\n# include <windows.h>\n#endif\n";
    assert_eq!(
        names(src),
        ["\"never.h\"", "<x.h>", "\"other.h\"", "<windows.h>"]
    );
}

#[test]
fn commented_out_includes_are_not_followed() {
    let src = "/* #include \"block.h\" */\n// #include \"line.h\"\n/* spanning\n#include \"inside.h\"\n\
               still comment */\n#include \"real.h\"\n// splice \\\n#include \"spliced-comment.h\"\n\
               int x; /* trailing \n #include \"in-trailing.h\" */\n#include \"after.h\"\n";
    assert_eq!(names(src), ["\"real.h\"", "\"after.h\""]);
}

#[test]
fn includes_inside_string_literals_are_not_directives() {
    let src = "const char *s = \"/* not a comment\";\n#include \"one.h\"\n\
               const char *t = \"\\\"#include <no.h>\";\nchar c = '\"';\n#include \"two.h\"\n\
               const char *u = \"unterminated /*\n#include \"three.h\"\n";
    assert_eq!(names(src), ["\"one.h\"", "\"two.h\"", "\"three.h\""]);
}

#[test]
fn raw_strings_hide_their_contents() {
    let src = "auto r = R\"x(\n#include \"no.h\"\n/* )\" */\n)x\";\n#include \"yes.h\"\n\
               auto q = u8R\"(/*)\";\n#include \"also.h\"\n";
    assert_eq!(names(src), ["\"yes.h\"", "\"also.h\""]);
}

#[test]
fn an_identifier_ending_in_r_before_a_string_is_not_a_raw_string() {
    let src = "#define FOR\"x\"\nchar *p = FOR\"(\";\n#include \"seen.h\"\n";
    assert_eq!(names(src), ["\"seen.h\""]);
}

#[test]
fn digit_separators_do_not_open_character_literals() {
    let src =
        "int big = 1'000'000; /* c\n#include \"no.h\" */\n#include \"yes.h\"\nchar c = L'x';\n";
    assert_eq!(names(src), ["\"yes.h\""]);
}

#[test]
fn line_splices_join_directive_lines() {
    let src = "#inc\\\nlude \\\n  \"spliced.h\"\n#include \\  \n<blank-splice.h>\n# /* c */ include /* c */ <commented.h>\n";
    assert_eq!(
        names(src),
        ["\"spliced.h\"", "<blank-splice.h>", "<commented.h>"]
    );
}

#[test]
fn crlf_line_ends_are_understood() {
    let src = "#include \"a.h\"\r\n/* x\r\n#include \"no.h\" */\r\n#include <b.h>\r\n";
    assert_eq!(names(src), ["\"a.h\"", "<b.h>"]);
}

#[test]
fn angle_header_names_keep_slashes_and_stars() {
    let src = "#include <sys//x.h>\n#include \"a/*b.h\"\n#include <c.h>\n";
    assert_eq!(names(src), ["<sys//x.h>", "\"a/*b.h\"", "<c.h>"]);
}

#[test]
fn computed_includes_keep_their_text_without_comments() {
    let src = "#include LUA_USER_H\n#include STR(PLAT/x.h) /* why */\n#include_next HDR\n";
    assert_eq!(names(src), ["=LUA_USER_H", "=STR(PLAT/x.h)", "next =HDR"]);
}

#[test]
fn has_include_in_conditions_and_defines_is_found() {
    let src = "#if __has_include(<opt.h>) && __has_include(\"local.h\")\n#endif\n\
               #elif __has_include_next(<next.h>)\n\
               #define HAVE_X __has_include(<x.h>)\n#if __has_include(CONFIG)\n#endif\n\
               #ifdef __has_include\n#endif\n#if __has_include__(<old.h>)\n#endif\n";
    assert_eq!(
        names(src),
        [
            "has <opt.h>",
            "has \"local.h\"",
            "has_next <next.h>",
            "has <x.h>",
            "has =CONFIG",
            "has <old.h>"
        ]
    );
}

#[test]
fn defines_keep_name_parameters_and_body() {
    let d = parse(
        b"#define A \"a.h\"\n#define F(x, y) <x/y.h> // c\n#define E\n#define V(...) __VA_ARGS__\n\
          #define LONG one \\\n two /* three */ four\n#define G (paren)\n",
    )
    .defines;
    let shown: Vec<String> = d
        .iter()
        .map(|d| {
            format!(
                "{}{}={}",
                d.name,
                d.params
                    .as_ref()
                    .map(|p| format!("({})", p.join(",")))
                    .unwrap_or_default(),
                d.body
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            "A=\"a.h\"",
            "F(x,y)=<x/y.h>",
            "E=",
            "V(...)=__VA_ARGS__",
            "LONG=one  two   four",
            "G=(paren)"
        ]
    );
}

#[test]
fn apostrophes_in_skipped_text_end_at_the_line() {
    let src = "#if 0\nthis isn't code /* but\n#endif\n#include \"seen.h\"\n";
    // The apostrophe swallows the rest of its line only, so the `/*` there is no comment.
    assert_eq!(names(src), ["\"seen.h\""]);
}

#[test]
fn unterminated_header_names_are_ignored() {
    assert_eq!(
        names("#include \"open.h\n#include <ok.h>\n#include <open\n"),
        ["<ok.h>"]
    );
}

#[test]
fn empty_and_odd_input_parses() {
    assert!(parse(b"").includes.is_empty());
    assert!(parse(b"#").includes.is_empty());
    assert!(parse(b"/*").includes.is_empty());
    assert!(parse(b"\"").includes.is_empty());
    assert!(parse(b"R\"abc").includes.is_empty());
    assert!(parse(b"#include").includes.is_empty());
    assert!(parse(b"\\").includes.is_empty());
    assert_eq!(names("#include <a.h>"), ["<a.h>"]);
}

#[test]
fn a_byte_order_mark_before_the_first_directive_is_skipped() {
    assert_eq!(names("\u{feff}#include \"a.h\"\n"), ["\"a.h\""]);
}

#[test]
fn a_lone_carriage_return_ends_a_line() {
    // Classic Mac OS line ends; libcpp takes `\r`, `\n` and `\r\n` alike.
    assert_eq!(
        names("/* mac */\r#include \"a.h\"\r#include <b.h>\r"),
        ["\"a.h\"", "<b.h>"]
    );
    assert_eq!(
        names("#define X \\\r#include \"not_a_directive.h\"\r#include \"c.h\"\r\n"),
        ["\"c.h\""]
    );
    // `\r\n` is one line end, not two.
    assert_eq!(
        names("#include \"a.h\" \\\r\n\"more\"\r\n#include \"b.h\"\r\n"),
        ["\"a.h\"", "\"b.h\""]
    );
}
