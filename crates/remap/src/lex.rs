//! remap.config lexing: logical lines, tokens, options.

/// One logical line: where it starts, and its tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    /// The physical line (1-based) the logical line starts on.
    pub(crate) number: usize,
    pub(crate) tokens: Vec<Token>,
}

/// A token: a parameter, or an option (`@name=value`, stored without the `@`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    Param(String),
    Opt(String),
}

/// Splits a file into logical lines: a `\` immediately before a newline joins the next line;
/// blank lines and lines whose first non-blank character is `#` are skipped (a `#` later in a
/// line is not a comment, as in ATS).
pub(crate) fn lines(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (index, physical) in text.split('\n').enumerate() {
        let physical = physical.strip_suffix('\r').unwrap_or(physical);
        if logical.is_empty() {
            start = index + 1;
        }
        match physical.strip_suffix('\\') {
            Some(joined) => {
                logical.push_str(joined);
                logical.push(' ');
            }
            None => {
                logical.push_str(physical);
                push(&mut lines, start, &logical);
                logical.clear();
            }
        }
    }
    if !logical.is_empty() {
        push(&mut lines, start, &logical);
    }
    lines
}

fn push(lines: &mut Vec<Line>, number: usize, text: &str) {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return;
    }
    lines.push(Line { number, tokens: tokens(text) });
}

/// Splits on spaces and tabs; a `"` or `'` toggles quoting, and the quotes stay in the token.
///
/// A token is the text between two unquoted separators, copied once at its size (building it
/// char by char reallocated every token a few times: a tenth of a 10,000-rule reload).
fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    for (at, c) in text.char_indices() {
        match c {
            '"' | '\'' if quote.is_none() => quote = Some(c),
            c if Some(c) == quote => quote = None,
            ' ' | '\t' if quote.is_none() => {
                if let Some(from) = start.take() {
                    finish(&mut tokens, &text[from..at]);
                }
                continue;
            }
            _ => {}
        }
        start.get_or_insert(at);
    }
    if let Some(from) = start {
        finish(&mut tokens, &text[from..]);
    }
    tokens
}

fn finish(tokens: &mut Vec<Token>, token: &str) {
    match token.strip_prefix('@') {
        Some("") => {}
        Some(option) => tokens.push(Token::Opt(option.to_owned())),
        None => tokens.push(Token::Param(token.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(line: &Line) -> Vec<&str> {
        line.tokens
            .iter()
            .map(|t| match t {
                Token::Param(p) => p.as_str(),
                Token::Opt(o) => o.as_str(),
            })
            .collect()
    }

    #[test]
    fn continuation_comments_quotes_and_options() {
        let text = "# comment\n\n  map http://a \\\n   http://b @plugin=p.so @ @pparam=\"x y\"\nmap a b c # not a comment\r\n";
        let lines = lines(text);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].number, 3);
        assert_eq!(
            params(&lines[0]),
            ["map", "http://a", "http://b", "plugin=p.so", "pparam=\"x y\""]
        );
        assert!(matches!(lines[0].tokens[3], Token::Opt(_)));
        assert_eq!(lines[1].number, 5);
        assert_eq!(params(&lines[1]), ["map", "a", "b", "c", "#", "not", "a", "comment"]);
    }

    #[test]
    fn quotes_span_separators_and_stay_in_the_token() {
        let lines = lines("map\t\"a b\"\t'c \" d' x\"y\tz\"w @ @o='p q' \"unclosed  tail\n");
        assert_eq!(
            params(&lines[0]),
            ["map", "\"a b\"", "'c \" d'", "x\"y\tz\"w", "o='p q'", "\"unclosed  tail"]
        );
        assert!(matches!(lines[0].tokens[4], Token::Opt(_)));
    }

    #[test]
    fn a_backslash_not_last_does_not_continue() {
        let lines = lines("map a\\ b c\nmap d e f\n");
        assert_eq!(lines.len(), 2);
        assert_eq!(params(&lines[0]), ["map", "a\\", "b", "c"]);
    }
}
