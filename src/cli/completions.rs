//! `neuromorpho completions bash|zsh|fish`: completion scripts generated from the table of
//! `flags` (commands, their options and free arguments, and what completes each value).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::flags::{self, CommandSpec, Flag, Hint, Scope, COMMANDS, FLAGS};

/// The fields a query can use, as NeuroMorpho.Org lists them (`neuromorpho fields` asks the
/// server; completion cannot).
const FIELDS: &[&str] = &[
    "neuron_id",
    "neuron_name",
    "archive",
    "age_scale",
    "gender",
    "age_classification",
    "brain_region",
    "brain_region_1",
    "brain_region_2",
    "brain_region_3",
    "cell_type",
    "cell_type_1",
    "cell_type_2",
    "cell_type_3",
    "species",
    "strain",
    "scientific_name",
    "stain",
    "experiment_condition",
    "protocol",
    "slicing_direction",
    "reconstruction_software",
    "objective_type",
    "original_format",
    "domain",
    "attributes",
    "magnification",
    "upload_date",
    "deposition_date",
    "shrinkage_reported",
    "shrinkage_corrected",
    "slicing_thickness",
    "min_age",
    "max_age",
    "min_weight",
    "max_weight",
    "reference_pmid",
    "reference_doi",
    "physical_Integrity",
];

/// One name to complete: an option's long name (with its short one), or one of its aliases.
struct Item {
    long: &'static str,
    short: Option<&'static str>,
    flag: &'static Flag,
    about: Cow<'static, str>,
}

/// The names to complete for these options: each long name (with its short one), then its
/// aliases.
fn items(flags: &[&'static Flag]) -> Vec<Item> {
    let mut v = Vec::new();
    for &flag in flags {
        v.push(Item {
            long: flag.long,
            short: flag.short,
            flag,
            about: Cow::Borrowed(flag.about),
        });
        for &alias in flag.aliases {
            v.push(Item {
                long: alias,
                short: None,
                flag,
                about: Cow::Owned(format!("neuromorphopy's name for {}", flag.long)),
            });
        }
    }
    v
}

/// The script for `shell`, or `None` for a shell we do not know.
pub fn script(shell: &str) -> Option<String> {
    match shell {
        "bash" => Some(bash()),
        "zsh" => Some(zsh()),
        "fish" => Some(fish()),
        _ => None,
    }
}

fn words(items: &[Item]) -> String {
    let mut v: Vec<&str> = Vec::new();
    for i in items {
        v.push(i.long);
        v.extend(i.short);
    }
    v.join(" ")
}

/// A command's free arguments (`[FIELD]`, `PATH...`) as a word for zsh's messages.
fn args_label(c: &CommandSpec) -> String {
    let label: String = c
        .args
        .chars()
        .filter(|ch| ch.is_ascii_alphanumeric())
        .collect();
    label.to_ascii_lowercase()
}

/// Bash's reply for a value completed by `hint` (`None`: nothing to offer).
fn bash_action(hint: Hint) -> String {
    let words =
        |list: &str| format!("COMPREPLY=( $(compgen -W \"{list}\" -- \"$cur\") ); return 0");
    match hint {
        Hint::None => "return 0".to_string(),
        Hint::File => "COMPREPLY=( $(compgen -f -- \"$cur\") ); return 0".to_string(),
        Hint::Folder => "COMPREPLY=( $(compgen -d -- \"$cur\") ); return 0".to_string(),
        Hint::Field => words("$fields"),
        Hint::FieldEquals => "COMPREPLY=( $(compgen -W \"$(printf '%s= ' $fields)\" -- \"$cur\") ); compopt -o nospace 2>/dev/null; return 0".to_string(),
        Hint::Choice(list) => words(&list.join(" ")),
        Hint::Command => words("$commands"),
    }
}

fn bash() -> String {
    let mut s = String::from(
        "# bash completion for neuromorpho (neuromorpho completions bash)\n_neuromorpho() {\n    local cur prev cmd i\n    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n    prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n",
    );
    let cmds: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    let _ = writeln!(s, "    local commands=\"{}\"", cmds.join(" "));
    let _ = writeln!(s, "    local fields=\"{}\"", FIELDS.join(" "));
    s.push_str("    cmd=\"\"\n    for ((i = 1; i < COMP_CWORD; i++)); do\n        case \"${COMP_WORDS[i]}\" in\n");
    let _ = writeln!(
        s,
        "            {}) cmd=\"${{COMP_WORDS[i]}}\"; break ;;",
        cmds.join("|")
    );
    s.push_str("        esac\n    done\n    case \"$prev\" in\n");
    // Option values, whatever the command.
    for flag in FLAGS.iter().filter(|f| f.value.is_some()) {
        let pattern: Vec<&str> = flag.names().collect();
        let _ = writeln!(
            s,
            "        {}) {} ;;",
            pattern.join("|"),
            bash_action(flag.hint)
        );
    }
    s.push_str("    esac\n    case \"$cmd\" in\n");
    for (c, flags) in flags::commands_with_flags() {
        let _ = writeln!(
            s,
            "        {})\n            if [[ \"$cur\" == -* ]]; then COMPREPLY=( $(compgen -W \"{}\" -- \"$cur\") ); return 0; fi\n            {} ;;",
            c.name,
            words(&items(&flags)),
            bash_action(c.args_hint)
        );
    }
    let globals: Vec<&'static Flag> = FLAGS.iter().filter(|f| f.scope == Scope::Global).collect();
    let _ = writeln!(
        s,
        "        *) COMPREPLY=( $(compgen -W \"$commands {}\" -- \"$cur\") ) ;;\n    esac\n}}\ncomplete -F _neuromorpho neuromorpho",
        words(&items(&globals))
    );
    s
}

/// Text inside a single-quoted sh/zsh word: a quote closes, escapes itself and reopens.
fn sh_single(s: &str) -> String {
    s.replace('\'', "'\\''")
}

/// Text inside a single-quoted fish word: only `\` and `'` are escaped.
fn fish_single(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

/// zsh's `_arguments` action for a value completed by `hint`.
fn zsh_value(hint: Hint) -> String {
    match hint {
        Hint::None => " ".to_string(),
        Hint::File => "_files".to_string(),
        Hint::Folder => "_files -/".to_string(),
        Hint::Field => "($fields)".to_string(),
        Hint::FieldEquals => "($fields_eq)".to_string(),
        Hint::Command => "(${commands%%:*})".to_string(),
        Hint::Choice(list) => format!("({})", list.join(" ")),
    }
}

fn zsh_spec(item: &Item) -> String {
    // An _arguments description: `:`, `[`, `]` and `\` are escaped with a backslash.
    let mut help = String::new();
    for ch in item.about.chars() {
        if matches!(ch, ':' | '[' | ']' | '\\') {
            help.push('\\');
        }
        help.push(ch);
    }
    let help = sh_single(&help);
    let action = match item.flag.value {
        None => String::new(),
        Some(_) => {
            let message = match item.flag.hint {
                Hint::File => "path",
                Hint::Folder => "folder",
                Hint::Field => "field",
                Hint::FieldEquals => "FIELD=VALUE",
                _ => "value",
            };
            format!(":{message}:{}", zsh_value(item.flag.hint))
        }
    };
    // A repeatable option may come again; another stops being offered once given.
    match (item.short, item.flag.repeat) {
        (Some(c), false) => format!(
            "'({c} {})'{{{c},{}}}'[{help}]{action}'",
            item.long, item.long
        ),
        (Some(c), true) => format!("'*'{{{c},{}}}'[{help}]{action}'", item.long),
        (None, false) => format!("'{}[{help}]{action}'", item.long),
        (None, true) => format!("'*{}[{help}]{action}'", item.long),
    }
}

fn zsh() -> String {
    let mut s = String::from("#compdef neuromorpho\n# zsh completion for neuromorpho (neuromorpho completions zsh)\n_neuromorpho() {\n");
    let _ = writeln!(
        s,
        "    local -a fields fields_eq commands\n    fields=({})",
        FIELDS.join(" ")
    );
    s.push_str("    fields_eq=(${^fields}=)\n    commands=(\n");
    for c in COMMANDS {
        let _ = writeln!(s, "        '{}:{}'", c.name, sh_single(c.about));
    }
    s.push_str("    )\n    local cmd i\n    for ((i = 2; i < CURRENT; i++)); do\n        if (( ${commands[(I)${words[i]}:*]} )); then cmd=${words[i]}; break; fi\n    done\n    if [[ -z $cmd ]]; then\n        _describe 'command' commands\n        return\n    fi\n    case $cmd in\n");
    for (c, flags) in flags::commands_with_flags() {
        let specs: Vec<String> = items(&flags).iter().map(zsh_spec).collect();
        let rest = match c.args_hint {
            Hint::None => String::new(),
            hint => {
                let count = if c.args.ends_with("...") { "*" } else { "1" };
                format!(" '{count}:{}:{}'", args_label(c), zsh_value(hint))
            }
        };
        let _ = writeln!(
            s,
            "        {}) _arguments -s {}{rest} ;;",
            c.name,
            specs.join(" ")
        );
    }
    s.push_str("    esac\n}\n_neuromorpho \"$@\"\n");
    s
}

/// fish's arguments for a value completed by `hint`.
fn fish_value(hint: Hint) -> String {
    match hint {
        Hint::None => String::new(),
        Hint::File => " -F".to_string(),
        Hint::Folder => " -a '(__fish_complete_directories)'".to_string(),
        Hint::Field => format!(" -a '{}'", FIELDS.join(" ")),
        Hint::FieldEquals => {
            let eq: Vec<String> = FIELDS.iter().map(|f| format!("{f}=")).collect();
            format!(" -a '{}'", eq.join(" "))
        }
        Hint::Choice(list) => format!(" -a '{}'", list.join(" ")),
        Hint::Command => {
            let cmds: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
            format!(" -a '{}'", cmds.join(" "))
        }
    }
}

fn fish() -> String {
    let mut s = String::from("# fish completion for neuromorpho (neuromorpho completions fish)\n");
    let _ = writeln!(s, "complete -c neuromorpho -f");
    for c in COMMANDS {
        let _ = writeln!(
            s,
            "complete -c neuromorpho -n '__fish_use_subcommand' -a {} -d '{}'",
            c.name,
            fish_single(c.about)
        );
    }
    for (c, flags) in flags::commands_with_flags() {
        let cond = format!("__fish_seen_subcommand_from {}", c.name);
        for item in items(&flags) {
            let mut line = format!(
                "complete -c neuromorpho -n '{cond}' -l {}",
                item.long.trim_start_matches("--")
            );
            if let Some(short) = item.short {
                let _ = write!(line, " -s {}", short.trim_start_matches('-'));
            }
            if item.flag.value.is_some() {
                // -r: a value follows; -F: files (only for a file's value).
                line.push_str(if item.flag.hint == Hint::File {
                    " -r"
                } else {
                    " -x"
                });
                line.push_str(&fish_value(item.flag.hint));
            }
            let _ = writeln!(s, "{line} -d '{}'", fish_single(&item.about));
        }
        let value = fish_value(c.args_hint);
        if !value.is_empty() {
            let _ = writeln!(s, "complete -c neuromorpho -n '{cond}'{value}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option a command's help text names is completed, and every option completed is
    /// in the help text: the table and the help cannot drift apart.
    #[test]
    fn completions_and_help_name_the_same_options() {
        for c in COMMANDS.iter().filter(|c| c.name != "help") {
            let Some(help) = super::super::help::for_command(c.name) else {
                panic!("no help for {}", c.name)
            };
            let completed: Vec<&str> = items(&flags::accepted_by(c.name))
                .iter()
                .map(|o| o.long)
                .collect();
            // The option lists of a help text: lines starting with `-`, up to the gap
            // before the description.
            for line in help
                .lines()
                .map(str::trim_start)
                .filter(|l| l.starts_with('-'))
            {
                let names = line.split("  ").next().unwrap_or("");
                for word in names.split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '-')) {
                    if word.starts_with("--") && word.len() > 2 {
                        assert!(
                            completed.contains(&word),
                            "{}: {word} is in the help, not completed",
                            c.name
                        );
                    }
                }
            }
            let own = FLAGS
                .iter()
                .filter(|f| f.scope != Scope::Global && f.accepted_by(c.name));
            for o in own {
                assert!(
                    help.contains(o.long),
                    "{}: {} is not in its help",
                    c.name,
                    o.long
                );
            }
        }
        let main = super::super::help::main();
        for o in FLAGS.iter().filter(|f| f.scope == Scope::Global) {
            assert!(main.contains(o.long), "{} is not in the main help", o.long);
        }
        for c in COMMANDS {
            assert!(main.contains(c.name), "{} is not in the main help", c.name);
        }
    }
}
