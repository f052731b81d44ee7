//! The help texts, generated from the table of `flags`: `neuromorpho --help` lists the
//! commands and the global options, each command's help its own options (and the global
//! ones whose meaning it changes), around the prose the table gives.

use std::sync::OnceLock;

use super::flags::{self, Flag, Scope, COMMANDS, FLAGS};

/// Columns of the help texts.
const WIDTH: usize = 88;

const ABOUT: &str = concat!(
    "neuromorpho ",
    env!("CARGO_PKG_VERSION"),
    " — search NeuroMorpho.Org and download neuron morphologies (SWC) with their metadata"
);

const USAGE: &str = "USAGE:
    neuromorpho [GLOBAL OPTIONS] <COMMAND> [ARGS]";

const QUERY: &str = "QUERY is a query file (JSON, or YAML), neuromorphopy's format:
    {\"filters\": {\"species\": [\"mouse\"], \"brain_region\": [\"neocortex\"]},
     \"sort\": {\"field\": \"neuron_id\", \"ascending\": true}}
and/or -f FIELD=V1,V2 (repeatable; double quotes keep a value with commas whole:
-f 'domain=\"Dendrites, Soma, No Axon\"'), --sort FIELD[:desc], or --all for the whole
catalog. Values are OR'ed within a field, fields AND'ed. With a file, -f adds values to
the file's list for that field (or a new field), and --sort replaces the file's sort.";

const MAIN_END: &str = "EXIT CODES:
    0  all done
    1  error: bad query, server unreachable, nothing downloaded (check: nothing readable)
    2  usage error
    3  finished, but some files failed (listed in OUT/failed.csv; the others are in place);
       check: some file has an error

EXAMPLES:
    neuromorpho fields species
    neuromorpho preview query.json
    neuromorpho download query.yaml -o neurons -c 8 -g species,brain_region
    neuromorpho download -f species=mouse -f cell_type=pyramidal -o mouse_pyr
    neuromorpho get cnic_001 C031097B-I4 -o some
    neuromorpho check neurons/downloads
    neuromorpho check neurons/downloads --format jsonl > report.jsonl";

/// `neuromorpho --help` (and `neuromorpho help`).
pub fn main() -> &'static str {
    &texts().0
}

/// The help of a command, by name (`help`'s is the main one).
pub fn for_command(name: &str) -> Option<&'static str> {
    if name == "help" {
        return Some(main());
    }
    texts()
        .1
        .iter()
        .find(|(command, _)| *command == name)
        .map(|(_, text)| text.as_str())
}

/// Every text, written once, on first use.
fn texts() -> &'static (String, Vec<(&'static str, String)>) {
    static TEXTS: OnceLock<(String, Vec<(&'static str, String)>)> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let commands = COMMANDS
            .iter()
            .filter(|c| c.name != "help")
            .map(|c| (c.name, command_help(c.name)))
            .collect();
        (main_help(), commands)
    })
}

fn main_help() -> String {
    let commands: Vec<(String, String)> = COMMANDS
        .iter()
        .map(|c| {
            (
                format!("{} {}", c.name, c.args).trim_end().to_string(),
                c.summary.to_string(),
            )
        })
        .collect();
    let options: Vec<(String, String)> = FLAGS
        .iter()
        .filter(|f| f.scope == Scope::Global)
        .map(|f| (names(f), described(f, None)))
        .collect();
    format!(
        "{ABOUT}\n\n{USAGE}\n\nCOMMANDS:\n{}\n{QUERY}\n\nGLOBAL OPTIONS:\n{}    \
         RUST_LOG=neuromorpho=debug works as well.\n\n{MAIN_END}\n",
        columns(&commands),
        columns(&options)
    )
}

/// The options a command's help lists: its own, then the global ones it describes itself.
fn listed(command: &str) -> Vec<&'static Flag> {
    flags::accepted_by(command)
        .into_iter()
        .filter(|f| f.scope != Scope::Global || f.help_in.iter().any(|(c, _)| *c == command))
        .collect()
}

fn command_help(name: &str) -> String {
    let Some(spec) = flags::command(name) else {
        return String::new();
    };
    let options: Vec<(String, String)> = listed(name)
        .into_iter()
        .map(|f| (names(f), described(f, Some(name))))
        .collect();
    let mut usage = format!("neuromorpho {} {}", spec.name, spec.args)
        .trim_end()
        .to_string();
    if !options.is_empty() {
        usage.push_str(" [OPTIONS]");
    }
    let mut text = format!("{usage}\n\n{}\n", spec.text);
    if !options.is_empty() {
        text.push_str("\nOPTIONS:\n");
        text.push_str(&columns(&options));
    }
    if !spec.more.is_empty() {
        text.push('\n');
        text.push_str(spec.more);
        text.push('\n');
    }
    text
}

/// `-o, --output DIR`.
fn names(flag: &Flag) -> String {
    let mut s = String::new();
    if let Some(short) = flag.short {
        s.push_str(short);
        s.push_str(", ");
    }
    s.push_str(flag.long);
    if let Some(value) = flag.value {
        s.push(' ');
        s.push_str(value);
    }
    s
}

/// The description with the aliases: `Output folder (default ./neurons; also --output-dir)`.
fn described(flag: &Flag, command: Option<&str>) -> String {
    let text = flag.help_for(command);
    if flag.aliases.is_empty() {
        return text.to_string();
    }
    let also = flag.aliases.join(", ");
    match text.strip_suffix(')') {
        Some(open) => format!("{open}; also {also})"),
        None => format!("{text} (also {also})"),
    }
}

/// Two columns, `    LEFT  RIGHT`, each right text wrapped to `WIDTH` under its column.
fn columns(rows: &[(String, String)]) -> String {
    let left = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let indent = 4 + left + 2;
    let mut out = String::new();
    for (l, r) in rows {
        let pad = left.saturating_sub(l.chars().count());
        for (i, line) in wrap(r, WIDTH.saturating_sub(indent).max(30))
            .iter()
            .enumerate()
        {
            if i == 0 {
                out.push_str(&format!("    {l}{:pad$}  {line}\n", ""));
            } else {
                out.push_str(&format!("{:indent$}{line}\n", ""));
            }
        }
    }
    out
}

/// Words in lines of at most `width` characters (a longer word has its own line); each
/// `\n` of `text` starts a line.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let len = line.chars().count();
            if len > 0 && len + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_words_whole_and_lines_short() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("one\ntwo three", 20), ["one", "two three"]);
        assert_eq!(
            wrap("averyveryverylongword x", 5),
            ["averyveryverylongword", "x"]
        );
    }

    #[test]
    fn aliases_join_the_description() {
        let output = flags::find("--output").unwrap();
        assert_eq!(
            described(output, None),
            "Output folder (default ./neurons; also --output-dir)"
        );
        let threads = flags::find("-j").unwrap();
        assert_eq!(names(threads), "-j, --threads N");
    }

    /// The option lists fit in `WIDTH` columns (a word too long for its column aside).
    #[test]
    fn option_lists_fit_their_width() {
        for name in COMMANDS.iter().map(|c| c.name) {
            let rows: Vec<(String, String)> = listed(name)
                .into_iter()
                .map(|f| (names(f), described(f, Some(name))))
                .collect();
            for line in columns(&rows).lines() {
                let one_word = line.split_whitespace().count() == 1;
                assert!(line.chars().count() <= WIDTH || one_word, "{name}: {line}");
            }
        }
    }
}
