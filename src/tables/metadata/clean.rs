//! Cell values: neuromorphopy 0.3.3's cleaning of `metadata.csv`, and the raw form. One
//! implementation, on the borrowed view of a value, writing into a buffer the caller reuses.

use std::fmt::Write as _;

use serde_json::Value;

use crate::archive::json_view::Val;

/// A value as the server sent it: strings as they are, lists joined with `|`, null empty.
pub fn raw_value(v: &Value) -> String {
    let mut out = String::new();
    raw_into(&Val::of(v), &mut out);
    out
}

/// [`raw_value`] of a view, appended to `out`.
pub(crate) fn raw_into(v: &Val<'_>, out: &mut String) {
    match v {
        Val::Null => {}
        Val::Str(s) => out.push_str(s),
        Val::Arr(a) => {
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                raw_into(x, out);
            }
        }
        Val::Num(n) => {
            let _ = write!(out, "{n}");
        }
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        obj @ Val::Obj(_) => {
            // A nested object as JSON text, as `Value::to_string` writes it.
            if let Ok(text) = serde_json::to_string(obj) {
                out.push_str(&text);
            }
        }
    }
}

/// Clean a value the way neuromorphopy 0.3.3 cleans its `metadata.csv` columns.
///
/// A null is empty. Anything else is written as Python's `str()` would (a list as
/// `['a', 'b']`), then `[`/`]` are stripped from both ends, every `'` is removed, every
/// lower-case `layer ` is removed, every `,` or space standing between two word characters
/// becomes `_`, and the result is lower-cased.
///
/// ```
/// use neuromorpho::tables::clean_value;
/// use serde_json::json;
/// assert_eq!(clean_value(&json!(["neocortex", "prefrontal", "layer 3"])), "neocortex, prefrontal, 3");
/// assert_eq!(clean_value(&json!("Dendrites, Soma, No Axon")), "dendrites, soma, no_axon");
/// assert_eq!(clean_value(&json!(null)), "");
/// ```
pub fn clean_value(v: &Value) -> String {
    let mut out = String::new();
    clean_into(&Val::of(v), &mut out, &mut String::new());
    out
}

/// [`clean_value`] of a view, appended to `out`; `scratch` is a buffer to reuse.
pub(crate) fn clean_into(v: &Val<'_>, out: &mut String, scratch: &mut String) {
    match v {
        Val::Null => {}
        Val::Str(s) => clean_text(s, out),
        Val::Arr(items) if items.iter().all(|x| matches!(x, Val::Str(s) if plain(s))) => {
            // The common list, of strings Python writes as they are between single quotes:
            // `['a', 'b']` loses its brackets at the ends and every quote, which leaves the
            // items joined with `, ` (an item's own brackets are inside quotes, so kept).
            scratch.clear();
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    scratch.push_str(", ");
                }
                if let Val::Str(s) = x {
                    scratch.push_str(s);
                }
            }
            clean_unbracketed(scratch, out);
        }
        other => {
            scratch.clear();
            python_repr(other, scratch);
            clean_text(scratch, out);
        }
    }
}

/// Whether Python's `repr()` of `s` is `s` between single quotes.
fn plain(s: &str) -> bool {
    !s.bytes()
        .any(|b| b == b'\'' || b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f)
}

/// The text steps of [`clean_value`].
fn clean_text(s: &str, out: &mut String) {
    clean_unbracketed(s.trim_matches(|c| c == '[' || c == ']'), out);
}

/// The steps after the brackets: the two removals, then one pass.
fn clean_unbracketed(s: &str, out: &mut String) {
    let s: std::borrow::Cow<str> = if s.contains('\'') {
        s.replace('\'', "").into()
    } else {
        s.into()
    };
    let s: std::borrow::Cow<str> = if has_layer(s.as_bytes()) {
        s.replace("layer ", "").into()
    } else {
        s
    };
    out.reserve(s.len());
    // Neighbours are judged on the text before replacement, as a regex substitution does.
    if s.is_ascii() {
        let b = s.as_bytes();
        let word = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
        let start = out.len();
        let mut copied = 0;
        for (i, &c) in b.iter().enumerate() {
            if (c == b',' || c == b' ')
                && i.checked_sub(1).and_then(|p| b.get(p)).is_some_and(word)
                && b.get(i + 1).is_some_and(word)
            {
                out.push_str(s.get(copied..i).unwrap_or(""));
                out.push('_');
                copied = i + 1;
            }
        }
        out.push_str(s.get(copied..).unwrap_or(""));
        if let Some(cell) = out.get_mut(start..) {
            cell.make_ascii_lowercase();
        }
        return;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut prev: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let between_words = (c == ',' || c == ' ')
            && prev.is_some_and(word)
            && chars.peek().is_some_and(|&n| word(n));
        if between_words {
            out.push('_');
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
        prev = Some(c);
    }
}

/// Whether `b` holds `layer ` (a search made for short cells: most have no `l` at all).
fn has_layer(b: &[u8]) -> bool {
    let mut rest = b;
    while let Some(i) = rest.iter().position(|&c| c == b'l') {
        if rest.get(i..i + 6) == Some(b"layer ".as_slice()) {
            return true;
        }
        rest = rest.get(i + 1..).unwrap_or(&[]);
    }
    false
}

/// Python's `str()` of a value, appended to `out`.
fn python_repr(v: &Val<'_>, out: &mut String) {
    match v {
        Val::Null => out.push_str("None"),
        Val::Bool(true) => out.push_str("True"),
        Val::Bool(false) => out.push_str("False"),
        Val::Num(n) => {
            let _ = match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => write!(out, "{i}"),
                (_, Some(u), _) => write!(out, "{u}"),
                (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e16 => write!(out, "{f:.1}"),
                (_, _, Some(f)) => write!(out, "{f}"),
                _ => write!(out, "{n}"),
            };
        }
        Val::Str(s) => python_str_repr(s, out),
        Val::Arr(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr(x, out);
            }
            out.push(']');
        }
        Val::Obj(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_str_repr(k, out);
                out.push_str(": ");
                python_repr(x, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr()` of a string: single quotes unless it holds a `'` and no `"`.
fn python_str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cleaning_matches_neuromorphopy() {
        let cases = [
            (
                json!(["neocortex", "prefrontal", "layer 3"]),
                "neocortex, prefrontal, 3",
            ),
            (
                json!(["Local projecting", "pyramidal", "principal cell"]),
                "local_projecting, pyramidal, principal_cell",
            ),
            (json!(["Layer 3", "a b"]), "layer_3, a_b"),
            (
                json!("Dendrites, Soma, No Axon"),
                "dendrites, soma, no_axon",
            ),
            (
                json!("green fluorescent protein (GFP)"),
                "green_fluorescent_protein (gfp)",
            ),
            (json!(null), ""),
            (json!(1), "1"),
            (json!(["O'Brien"]), "\"obrien\""),
            (json!(["12204204", "12902394"]), "12204204, 12902394"),
            (json!("Male/Female"), "male/female"),
            (json!("a b c,d"), "a_b_c_d"),
            (json!("Ångström Cell"), "ångström_cell"),
            (json!([1, null, 2.0]), "1, none, 2.0"),
        ];
        for (input, want) in cases {
            assert_eq!(clean_value(&input), want, "input {input}");
        }
    }

    fn repr(s: &str) -> String {
        let mut out = String::new();
        python_str_repr(s, &mut out);
        out
    }

    #[test]
    fn python_repr_of_strings() {
        assert_eq!(repr("a'b"), "\"a'b\"");
        assert_eq!(repr("a'b\""), "'a\\'b\"'");
        assert_eq!(repr("x\ny"), "'x\\ny'");
    }

    #[test]
    fn raw_values_join_lists() {
        assert_eq!(raw_value(&json!(["a, b", "c"])), "a, b|c");
        assert_eq!(raw_value(&json!(null)), "");
        assert_eq!(raw_value(&json!(7)), "7");
    }

    #[test]
    fn the_list_shortcut_cleans_as_the_python_text_does() {
        // Every list of these items, cleaned the short way and through Python's text.
        let items = [
            "",
            "a",
            "Layer 2",
            "layer 3",
            "[x",
            "y]",
            "[]",
            "a,b",
            "a b",
            " lead",
            "trail ",
            "Ångström",
            "x_y",
            "ÉÀ ü",
            "1",
            "O",
            "layer ",
            ",",
            " ",
            // Python writes these otherwise: the shortcut must leave them alone.
            "O'Brien",
            "say \"hi\"",
            "it's \"so\"",
            "back\\slash",
            "new\nline",
            "tab\t",
        ];
        for a in items {
            for b in items {
                for list in [vec![a], vec![a, b], vec![b, a, b]] {
                    let view = Val::Arr(list.iter().map(|s| Val::Str((*s).into())).collect());
                    let mut short = String::new();
                    clean_into(&view, &mut short, &mut String::new());
                    let mut text = String::new();
                    python_repr(&view, &mut text);
                    let mut long = String::new();
                    clean_text(&text, &mut long);
                    assert_eq!(short, long, "{list:?}");
                }
            }
        }
    }
}
