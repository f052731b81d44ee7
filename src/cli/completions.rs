//! `neuromorpho completions bash|zsh|fish`: completion scripts generated from one table of
//! the commands and their options (a test keeps the table and the help texts in step).

use std::fmt::Write as _;

/// What an option takes.
#[derive(Clone, Copy, PartialEq)]
enum Value {
    Flag,
    Text,
    Path,
    /// A field name (`-g`, `--sort`); `-f` completes `FIELD=`.
    Field,
    FieldEq,
    Choice(&'static [&'static str]),
}

struct Opt {
    long: &'static str,
    short: Option<char>,
    value: Value,
    help: &'static str,
}

const fn opt(long: &'static str, short: Option<char>, value: Value, help: &'static str) -> Opt {
    Opt {
        long,
        short,
        value,
        help,
    }
}

struct Command {
    name: &'static str,
    about: &'static str,
    opts: &'static [Opt],
    /// What free arguments are: files/folders, or nothing to complete.
    takes_paths: bool,
}

use Value::*;

const GLOBAL: &[Opt] = &[
    opt("--base-url", None, Text, "the server"),
    opt("--user-agent", None, Text, "replace the User-Agent"),
    opt(
        "--timeout",
        None,
        Text,
        "seconds to wait for a connection, headers, each read",
    ),
    opt(
        "--speed-limit",
        None,
        Text,
        "abandon a transfer slower than this (bytes/s)",
    ),
    opt("--speed-time", None, Text, "... for this long (seconds)"),
    opt("--max-time", None, Text, "bound each transfer (seconds)"),
    opt("--retries", None, Text, "attempts per request"),
    opt(
        "--rate",
        None,
        Text,
        "API requests per second (0: unlimited)",
    ),
    opt("--concurrency", Some('c'), Text, "parallel requests"),
    opt(
        "--concurrent",
        None,
        Text,
        "neuromorphopy's name for --concurrency",
    ),
    opt("--ca-file", None, Path, "add CA certificates (PEM)"),
    opt("--insecure", None, Flag, "do not verify TLS certificates"),
    opt("--proxy", None, Text, "use this proxy"),
    opt("--no-proxy", None, Flag, "use no proxy"),
    opt(
        "--max-file-size",
        None,
        Text,
        "abandon larger files (e.g. 500M)",
    ),
    opt("--verbose", Some('v'), Flag, "debug logging"),
    opt("--quiet", Some('q'), Flag, "only errors"),
    opt("--help", Some('h'), Flag, "help"),
    opt("--version", Some('V'), Flag, "version"),
];

const QUERY: &[Opt] = &[
    opt("--filter", Some('f'), FieldEq, "FIELD=V1,V2"),
    opt("--sort", None, Field, "FIELD[:desc]"),
    opt("--all", None, Flag, "the whole catalog"),
];

const OUT: &[Opt] = &[
    opt("--output", Some('o'), Path, "output folder"),
    opt(
        "--output-dir",
        None,
        Path,
        "neuromorphopy's name for --output",
    ),
    opt(
        "--metadata",
        Some('m'),
        Path,
        "metadata file, relative to the output folder",
    ),
    opt(
        "--metadata-filename",
        None,
        Path,
        "neuromorphopy's name for --metadata",
    ),
];

const JOB: &[Opt] = &[
    opt(
        "--metadata-format",
        None,
        Choice(&["csv", "raw-csv", "jsonl"]),
        "table format",
    ),
    opt("--morphometry", None, Flag, "add morphometry columns"),
    opt("--shard", None, Text, "K/N: this part of a job array"),
    opt("--no-log", None, Flag, "no log file"),
];

const FILES: &[Opt] = &[
    opt("--group-by", Some('g'), Field, "fields making sub-folders"),
    opt(
        "--what",
        None,
        Choice(&["cng", "original", "logs"]),
        "which files",
    ),
    opt(
        "--update",
        None,
        Flag,
        "revalidate held files, fetch new ones",
    ),
    opt(
        "--check-hash",
        None,
        Flag,
        "compare SHA-256 before skipping",
    ),
    opt(
        "--check",
        None,
        Flag,
        "check every SWC file, verdicts in checks.csv",
    ),
];

const COMMANDS: &[Command] = &[
    Command {
        name: "fields",
        about: "list the queryable fields, or a field's values",
        opts: &[],
        takes_paths: false,
    },
    Command {
        name: "preview",
        about: "validate a query, print the count",
        opts: &[],
        takes_paths: true,
    },
    Command {
        name: "metadata",
        about: "write only the metadata table",
        opts: &[],
        takes_paths: true,
    },
    Command {
        name: "download",
        about: "the table, then every file",
        opts: &[opt(
            "--from-csv",
            None,
            Path,
            "the neurons of an earlier table",
        )],
        takes_paths: true,
    },
    Command {
        name: "get",
        about: "neurons by name",
        opts: &[opt("--names", None, Path, "a file of names (- : stdin)")],
        takes_paths: false,
    },
    Command {
        name: "verify",
        about: "check a folder against its manifest",
        opts: &[
            opt("--repair", None, Flag, "fetch again what failed"),
            opt("--no-hash", None, Flag, "sizes only"),
            opt("--threads", Some('j'), Text, "files hashed at once"),
        ],
        takes_paths: true,
    },
    Command {
        name: "check",
        about: "check SWC files and folders",
        opts: &[opt(
            "--format",
            None,
            Choice(&["table", "jsonl"]),
            "output format",
        )],
        takes_paths: true,
    },
    Command {
        name: "doctor",
        about: "check the connection step by step",
        opts: &[],
        takes_paths: false,
    },
    Command {
        name: "completions",
        about: "print a completion script",
        opts: &[],
        takes_paths: false,
    },
    Command {
        name: "help",
        about: "help on a command",
        opts: &[],
        takes_paths: false,
    },
];

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

/// The options of a command: its own, then the shared groups it takes, then the global ones.
fn options_of(cmd: &Command) -> Vec<&'static Opt> {
    let groups: &[&[Opt]] = match cmd.name {
        "preview" => &[OUT, QUERY],
        "metadata" => &[OUT, QUERY, JOB],
        "download" => &[OUT, QUERY, JOB, FILES],
        "get" => &[OUT, JOB, FILES],
        "verify" => &[&OUT[..1]],
        _ => &[],
    };
    let mut v: Vec<&'static Opt> = Vec::new();
    for list in std::iter::once(cmd.opts).chain(groups.iter().copied()) {
        v.extend(list.iter());
    }
    v.extend(GLOBAL.iter());
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

fn names(opts: &[&Opt]) -> String {
    let mut v: Vec<String> = Vec::new();
    for o in opts {
        v.push(o.long.to_string());
        if let Some(c) = o.short {
            v.push(format!("-{c}"));
        }
    }
    v.join(" ")
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
    let mut all: Vec<&Opt> = GLOBAL
        .iter()
        .chain(QUERY)
        .chain(OUT)
        .chain(JOB)
        .chain(FILES)
        .collect();
    for c in COMMANDS {
        all.extend(c.opts.iter());
    }
    let pattern = |o: &Opt| match o.short {
        Some(c) => format!("-{c}|{}", o.long),
        None => o.long.to_string(),
    };
    for o in &all {
        let action = match o.value {
            Flag => continue,
            Text => "return 0".to_string(),
            Path => "COMPREPLY=( $(compgen -f -- \"$cur\") ); return 0".to_string(),
            Field => "COMPREPLY=( $(compgen -W \"$fields\" -- \"$cur\") ); return 0".to_string(),
            FieldEq => "COMPREPLY=( $(compgen -W \"$(printf '%s= ' $fields)\" -- \"$cur\") ); compopt -o nospace 2>/dev/null; return 0".to_string(),
            Choice(c) => format!("COMPREPLY=( $(compgen -W \"{}\" -- \"$cur\") ); return 0", c.join(" ")),
        };
        let _ = writeln!(s, "        {}) {action} ;;", pattern(o));
    }
    s.push_str("    esac\n    case \"$cmd\" in\n");
    for c in COMMANDS {
        let opts = options_of(c);
        let rest = match c.name {
            "help" => "COMPREPLY=( $(compgen -W \"$commands\" -- \"$cur\") ); return 0".to_string(),
            "completions" => {
                "COMPREPLY=( $(compgen -W \"bash zsh fish\" -- \"$cur\") ); return 0".to_string()
            }
            "fields" => "COMPREPLY=( $(compgen -W \"$fields\" -- \"$cur\") ); return 0".to_string(),
            _ if c.takes_paths => "COMPREPLY=( $(compgen -f -- \"$cur\") ); return 0".to_string(),
            _ => "return 0".to_string(),
        };
        let _ = writeln!(
            s,
            "        {})\n            if [[ \"$cur\" == -* ]]; then COMPREPLY=( $(compgen -W \"{}\" -- \"$cur\") ); return 0; fi\n            {rest} ;;",
            c.name,
            names(&opts)
        );
    }
    let globals: Vec<&Opt> = GLOBAL.iter().collect();
    let _ = writeln!(
        s,
        "        *) COMPREPLY=( $(compgen -W \"$commands {}\" -- \"$cur\") ) ;;\n    esac\n}}\ncomplete -F _neuromorpho neuromorpho",
        names(&globals)
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

fn zsh_spec(o: &Opt) -> String {
    // An _arguments description: `:`, `[`, `]` and `\` are escaped with a backslash.
    let mut help = String::new();
    for ch in o.help.chars() {
        if matches!(ch, ':' | '[' | ']' | '\\') {
            help.push('\\');
        }
        help.push(ch);
    }
    let help = sh_single(&help);
    let action = match o.value {
        Flag => String::new(),
        Text => ":value: ".to_string(),
        Path => ":path:_files".to_string(),
        Field => ":field:($fields)".to_string(),
        FieldEq => ":FIELD=VALUE:($fields_eq)".to_string(),
        Choice(c) => format!(":value:({})", c.join(" ")),
    };
    let spec = |name: &str| format!("'{name}[{help}]{action}'");
    match o.short {
        Some(c) => format!("'(-{c} {})'{{-{c},{}}}'[{help}]{action}'", o.long, o.long),
        None => spec(o.long),
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
    for c in COMMANDS {
        let specs: Vec<String> = options_of(c).iter().map(|o| zsh_spec(o)).collect();
        let rest = match c.name {
            "help" => " '*:command:(${commands%%:*})'".to_string(),
            "completions" => " '1:shell:(bash zsh fish)'".to_string(),
            "fields" => " '1:field:($fields)'".to_string(),
            _ if c.takes_paths => " '*:path:_files'".to_string(),
            _ => String::new(),
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

fn fish() -> String {
    let mut s = String::from("# fish completion for neuromorpho (neuromorpho completions fish)\n");
    let cmds: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    let _ = writeln!(s, "complete -c neuromorpho -f");
    for c in COMMANDS {
        let _ = writeln!(
            s,
            "complete -c neuromorpho -n '__fish_use_subcommand' -a {} -d '{}'",
            c.name,
            fish_single(c.about)
        );
    }
    let fields = FIELDS.join(" ");
    for c in COMMANDS {
        let cond = format!("__fish_seen_subcommand_from {}", c.name);
        for o in options_of(c) {
            let mut line = format!(
                "complete -c neuromorpho -n '{cond}' -l {}",
                o.long.trim_start_matches("--")
            );
            if let Some(ch) = o.short {
                let _ = write!(line, " -s {ch}");
            }
            match o.value {
                Flag => {}
                Text => line.push_str(" -x"),
                Path => line.push_str(" -r -F"),
                Field => {
                    let _ = write!(line, " -x -a '{fields}'");
                }
                FieldEq => {
                    let eq: Vec<String> = FIELDS.iter().map(|f| format!("{f}=")).collect();
                    let _ = write!(line, " -x -a '{}'", eq.join(" "));
                }
                Choice(ch) => {
                    let _ = write!(line, " -x -a '{}'", ch.join(" "));
                }
            }
            let _ = writeln!(s, "{line} -d '{}'", fish_single(o.help));
        }
        match c.name {
            "help" => {
                let _ = writeln!(
                    s,
                    "complete -c neuromorpho -n '{cond}' -a '{}'",
                    cmds.join(" ")
                );
            }
            "completions" => {
                let _ = writeln!(s, "complete -c neuromorpho -n '{cond}' -a 'bash zsh fish'");
            }
            "fields" => {
                let _ = writeln!(s, "complete -c neuromorpho -n '{cond}' -a '{fields}'");
            }
            _ if c.takes_paths => {
                let _ = writeln!(s, "complete -c neuromorpho -n '{cond}' -F");
            }
            _ => {}
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
            let completed: Vec<&str> = options_of(c).iter().map(|o| o.long).collect();
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
            for o in c.opts {
                assert!(
                    help.contains(o.long),
                    "{}: {} is not in its help",
                    c.name,
                    o.long
                );
            }
        }
        let main = super::super::help::MAIN;
        for o in GLOBAL {
            assert!(main.contains(o.long), "{} is not in the main help", o.long);
        }
        for c in COMMANDS {
            assert!(main.contains(c.name), "{} is not in the main help", c.name);
        }
    }
}
