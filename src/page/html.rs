//! The page's text: HTML escaping, the data as JSON safe inside a `<script>` element, the
//! citations' Markdown as HTML, and the template filled in.

use std::fmt::Write as _;

use crate::util::text::escape_markup;

/// JSON for a `<script type="application/json">` element: `<`, `>` and `&` as `\u` escapes
/// (no `</script>` or `<!--` can end or change the element), and U+2028 and U+2029 too.
pub(crate) fn json_for_script(value: &serde_json::Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// A relative path of the folder as a URL: each segment percent-encoded, so that no name
/// can be read as a scheme, a query or a fragment.
pub(crate) fn href(path: &str) -> String {
    path.split('/')
        .map(crate::archive::files::encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Inline Markdown: `[text](https://...)` links (http and https only), the rest as text.
fn inline(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let url_part = &after[close + 2..];
            let end = url_part.find(')')?;
            let url = &url_part[..end];
            let text = &after[..close];
            (url.starts_with("https://") || url.starts_with("http://")).then_some((
                text,
                url,
                open + 1 + close + 2 + end + 1,
            ))
        });
        match link {
            Some((text, url, consumed)) => {
                out.push_str(&escape_markup(&rest[..open]));
                let _ = write!(
                    out,
                    "<a href=\"{}\" rel=\"noreferrer\">{}</a>",
                    escape_markup(url),
                    escape_markup(text)
                );
                rest = &rest[consumed..];
            }
            None => {
                out.push_str(&escape_markup(&rest[..=open]));
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(&escape_markup(rest));
}

/// The subset of Markdown `CITATIONS.md` is written in: headings, bullets, tables,
/// paragraphs and links. Everything else is text.
pub(crate) fn markdown(md: &str) -> String {
    let mut out = String::new();
    let mut list = false;
    let mut table = false;
    let close = |out: &mut String, list: &mut bool, table: &mut bool| {
        if *list {
            out.push_str("</ul>");
            *list = false;
        }
        if *table {
            out.push_str("</table>");
            *table = false;
        }
    };
    for line in md.lines() {
        let line = line.trim_end();
        if let Some(item) = line.strip_prefix("- ") {
            if !list {
                close(&mut out, &mut list, &mut table);
                out.push_str("<ul>");
                list = true;
            }
            out.push_str("<li>");
            inline(item, &mut out);
            out.push_str("</li>");
        } else if line.starts_with('|') {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            if cells
                .iter()
                .all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-' || ch == ':'))
            {
                continue;
            }
            let tag = if table { "td" } else { "th" };
            if !table {
                close(&mut out, &mut list, &mut table);
                out.push_str("<table class=\"citations\">");
                table = true;
            }
            out.push_str("<tr>");
            for c in cells {
                let _ = write!(out, "<{tag}>");
                inline(c, &mut out);
                let _ = write!(out, "</{tag}>");
            }
            out.push_str("</tr>");
        } else {
            close(&mut out, &mut list, &mut table);
            if let Some(h) = line.strip_prefix("## ") {
                out.push_str("<h4>");
                inline(h, &mut out);
                out.push_str("</h4>");
            } else if let Some(h) = line.strip_prefix("# ") {
                out.push_str("<h3>");
                inline(h, &mut out);
                out.push_str("</h3>");
            } else if !line.is_empty() {
                out.push_str("<p>");
                inline(line, &mut out);
                out.push_str("</p>");
            }
        }
    }
    close(&mut out, &mut list, &mut table);
    out
}

/// Fill `{{key}}` markers of the template (only the template's own: a value that holds a
/// marker is not expanded again).
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|v| v.1.len()).sum::<usize>());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                let key = &after[..close];
                match values.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push_str("{{");
                        out.push_str(key);
                        out.push_str("}}");
                    }
                }
                rest = &after[close + 2..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_cannot_become_markup() {
        assert_eq!(
            escape_markup("<img src=x onerror=\"a()\">&'\u{1b}"),
            "&lt;img src=x onerror=&quot;a()&quot;&gt;&amp;&#39;\u{FFFD}"
        );
        let v = serde_json::json!({"n": "</script><!--<script>&\u{2028}\u{2029}"});
        let j = json_for_script(&v);
        assert!(
            !j.contains('<') && !j.contains('>') && !j.contains('&'),
            "{j}"
        );
        assert!(!j.contains('\u{2028}') && !j.contains('\u{2029}'), "{j}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&j).unwrap(), v);
        assert_eq!(
            href("downloads/Ev il/a#b?.swc"),
            "downloads/Ev%20il/a%23b%3F.swc"
        );
        assert_eq!(href("javascript:alert(1)"), "javascript%3Aalert%281%29");
    }

    #[test]
    fn citations_markdown() {
        let html = markdown(
            "# Citations\n\nText <b>.\n\n- one [x](https://doi.org/1)\n- [bad](javascript:alert(1))\n\n\
             | PMID | DOI |\n|---|---|\n| [1](https://pubmed.ncbi.nlm.nih.gov/1/) | <i> |\n",
        );
        assert_eq!(
            html,
            "<h3>Citations</h3><p>Text &lt;b&gt;.</p><ul><li>one <a href=\"https://doi.org/1\" \
             rel=\"noreferrer\">x</a></li><li>[bad](javascript:alert(1))</li></ul>\
             <table class=\"citations\"><tr><th>PMID</th><th>DOI</th></tr><tr><td><a \
             href=\"https://pubmed.ncbi.nlm.nih.gov/1/\" rel=\"noreferrer\">1</a></td>\
             <td>&lt;i&gt;</td></tr></table>"
        );
        assert_eq!(
            fill("a{{x}}b{{y}}{{", &[("x", "{{y}}"), ("y", "2")]),
            "a{{y}}b2{{"
        );
    }
}
