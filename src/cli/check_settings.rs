//! `check`'s options beyond the format: NeuroM's checks to run (`--neurom`, `--checks`,
//! `--neurom-preset`, `--neurom-set`) and what a file must pass (`--require`), turned from
//! their text into the library's options. Parsed by `args`, used by `check`.

use neuromorpho::swc::{NeuromCheck, NeuromOptions, Requirements};

/// The check options as given on the command line (parsed by `args.rs`).
pub struct CheckFlags {
    pub neurom: bool,
    pub checks: Option<String>,
    pub preset: Option<String>,
    pub set: Vec<String>,
    pub require: Vec<String>,
}

/// What `check` runs besides reading and validating: NeuroM's checks, and what a file must
/// satisfy (`None`: the library's default, no error).
#[derive(Debug, Clone, Default)]
pub struct CheckSettings {
    pub neurom: Option<NeuromOptions>,
    pub require: Option<Requirements>,
    /// `--require` as given, for the summary.
    pub require_text: String,
}

/// A comma-separated list, blanks dropped.
fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

impl CheckSettings {
    /// `--neurom`, `--checks NAME,...`, `--neurom-preset morph-check`,
    /// `--neurom-set CHECK.PARAM=VALUE,...` and `--require WHAT,...`; a mistake is a usage
    /// error naming the option.
    pub fn parse(flags: CheckFlags) -> Result<CheckSettings, String> {
        let mut neurom = match flags.preset.as_deref().map(str::trim) {
            None => None,
            Some("morph-check" | "morph_check") => Some(NeuromOptions::morph_check()),
            Some(other) => {
                return Err(format!(
                    "--neurom-preset '{}': the preset is morph-check (NeuroM's morph_check.yaml)",
                    neuromorpho::text::escape(other)
                ))
            }
        };
        if flags.neurom && neurom.is_none() {
            neurom = Some(NeuromOptions::new());
        }
        if let Some(list) = &flags.checks {
            let checks = items(list)
                .map(|n| n.parse::<NeuromCheck>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("--checks: {e}"))?;
            if checks.is_empty() {
                return Err("--checks: no check named (e.g. has_axon,has_no_fat_ends)".into());
            }
            neurom = Some(neurom.unwrap_or_default().checks(checks));
        }
        for list in &flags.set {
            for item in items(list) {
                let (name, value) = item.split_once('=').ok_or_else(|| {
                    format!(
                        "--neurom-set '{}': expected CHECK.PARAMETER=VALUE (e.g. has_no_jumps.max_distance=20)",
                        neuromorpho::text::escape(item)
                    )
                })?;
                let (check, parameter) = name.trim().split_once('.').ok_or_else(|| {
                    format!(
                        "--neurom-set '{}': expected CHECK.PARAMETER=VALUE (e.g. has_no_jumps.max_distance=20)",
                        neuromorpho::text::escape(item)
                    )
                })?;
                let check: NeuromCheck = check.parse().map_err(|e| format!("--neurom-set: {e}"))?;
                let options = neurom.take().unwrap_or_default();
                neurom = Some(
                    options
                        .set(check, parameter.trim(), value)
                        .map_err(|e| format!("--neurom-set: {e}"))?,
                );
            }
        }
        let mut require = None;
        let mut require_text = Vec::new();
        for list in &flags.require {
            for item in items(list) {
                let r = require.take().unwrap_or_else(Requirements::none);
                require = Some(match item {
                    "swc" => r.swc(true),
                    "morphio" => r.morphio(true),
                    "neurom" => {
                        let options = neurom.get_or_insert_with(NeuromOptions::new);
                        r.neurom(options.checks.iter().copied())
                    }
                    name => {
                        let check: NeuromCheck = name
                            .parse()
                            .map_err(|e| format!("--require: {e}; or swc, morphio, neurom"))?;
                        r.neurom([check])
                    }
                });
                require_text.push(item.to_string());
            }
        }
        if !flags.require.is_empty() && require.is_none() {
            return Err(
                "--require: nothing named (swc, morphio, neurom, or NeuroM check names)".into(),
            );
        }
        Ok(CheckSettings {
            neurom,
            require,
            require_text: require_text.join(","),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(require: &[&str]) -> CheckFlags {
        CheckFlags {
            neurom: false,
            checks: None,
            preset: None,
            set: Vec::new(),
            require: require.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn require_names_what_a_file_must_satisfy() {
        let s = CheckSettings::parse(flags(&["morphio,has_axon"])).unwrap();
        let r = s.require.unwrap();
        assert!(r.morphio && !r.swc);
        assert_eq!(r.neurom, [NeuromCheck::HasAxon]);
        let s = CheckSettings::parse(flags(&["neurom"])).unwrap();
        assert_eq!(s.require.unwrap().neurom.len(), NeuromCheck::ALL.len());
        let e = CheckSettings::parse(flags(&["has_axn"])).unwrap_err();
        assert!(e.contains("did you mean has_axon"), "{e}");
        let mut f = flags(&[]);
        f.set = vec!["has_no_jumps.max_distance=twenty".into()];
        let e = CheckSettings::parse(f).unwrap_err();
        assert!(e.contains("expected a number"), "{e}");
        let mut f = flags(&[]);
        f.preset = Some("morph-check".into());
        f.set = vec!["has_no_fat_ends.final_point_count=3".into()];
        let s = CheckSettings::parse(f).unwrap().neurom.unwrap();
        assert_eq!((s.checks.len(), s.fat_end_final_point_count), (7, 3));
    }
}
