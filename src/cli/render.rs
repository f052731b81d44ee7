//! `render`: SWC files and folders drawn by the library (`swc::render_paths`, which walks
//! them as `check` does), each picture written atomically beside its file or under `-o`; one
//! stderr line per file with errors or that cannot be read, a summary, and the exit code
//! (mapped as `check` maps it). Ctrl-C stops the walk: the pictures written are whole.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use neuromorpho::swc::{render_paths, CheckOptions, RenderOptions, RenderedFile, SwcError, View};

use super::args::{Config, RenderConfig, Verbosity};
use super::output::{self, plural, OutError};
use super::{exit, logging, sys, Failure};

pub fn run(
    config: &Config,
    paths: &[PathBuf],
    out_dir: Option<&Path>,
    render: &RenderConfig,
    threads: Option<usize>,
) -> Result<u8, Failure> {
    logging::init(config.verbosity, None);
    let mut options = RenderOptions::new().view(render.view);
    if let Some(w) = render.width {
        options = options.fixed_width(w);
    }
    if let Some(s) = render.size {
        options = options.size(s);
    }
    let mut check = CheckOptions::new().max_file_size(config.net.max_file_size);
    if let Some(n) = threads {
        check = check.threads(n);
    }
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the output folder {}: {e}", shown(dir)))?;
    }
    sys::catch_signals();
    let mut run = Run {
        paths,
        out_dir,
        view: render.view,
        written: HashSet::new(),
        pictures: 0,
        with_errors: 0,
        not_drawn: 0,
        read: 0,
        out_error: None,
    };
    let summary = render_paths(paths, &options, &check, |file| {
        if sys::received().is_some() {
            return ControlFlow::Break(());
        }
        run.on_file(file)
    })
    .map_err(|e| output::chain(&e))?;
    if let Some(sig) = sys::received() {
        output::say(&format!(
            "interrupted ({}): {} written, each one whole",
            if sig == sys::SIGTERM {
                "SIGTERM"
            } else {
                "Ctrl-C"
            },
            plural(run.pictures, "picture", "pictures")
        ));
        return Ok(exit::signal(sig));
    }
    if let Some(e) = run.out_error {
        return Err(e.into());
    }
    if summary.files == 0 {
        return Err(Failure::Message(format!(
            "no .swc file found in {}",
            shown_paths(paths)
        )));
    }
    if run.read == 0 {
        return Err(Failure::Message(format!(
            "nothing could be read: {} given or found, none could be opened or listed",
            plural(summary.files as u64, "path", "paths")
        )));
    }
    if config.verbosity != Verbosity::Quiet {
        let place = match out_dir {
            Some(d) => format!(" in {}", shown(d)),
            None => String::new(),
        };
        output::say(&format!(
            "rendered {} of {}{place}: {} drawn from files with errors, {} not drawn",
            plural(run.pictures, "picture", "pictures"),
            plural(summary.files as u64, "file", "files"),
            run.with_errors,
            run.not_drawn
        ));
    }
    Ok(if run.with_errors + run.not_drawn > 0 {
        exit::PARTIAL
    } else {
        exit::OK
    })
}

/// What a run has done so far.
struct Run<'a> {
    paths: &'a [PathBuf],
    out_dir: Option<&'a Path>,
    view: View,
    /// Pictures written by this run: a second file that would land on one is refused.
    written: HashSet<PathBuf>,
    pictures: u64,
    with_errors: u64,
    not_drawn: u64,
    /// Files whose bytes could be read (SWC or not).
    read: u64,
    out_error: Option<OutError>,
}

impl Run<'_> {
    fn on_file(&mut self, file: RenderedFile) -> ControlFlow<()> {
        let name = shown(&file.path);
        let drawing = match file.result {
            Ok(d) => d,
            Err(e) => {
                self.read += u64::from(!matches!(e, SwcError::Io { .. }));
                self.not_drawn += 1;
                output::say(&format!(
                    "error: {}",
                    neuromorpho::text::escape(&e.to_string())
                ));
                return ControlFlow::Continue(());
            }
        };
        self.read += 1;
        let stdin = file.path.as_os_str() == "-";
        if stdin && self.out_dir.is_none() {
            if let Err(e) = output::print(&drawing.svg) {
                self.out_error = Some(e);
                return ControlFlow::Break(());
            }
        } else {
            let target = self.target_for(&file.path);
            if let Err(why) = self.write(&file.path, &target, &drawing.svg) {
                self.not_drawn += 1;
                output::say(&format!("error: {name}: {why}"));
                return ControlFlow::Continue(());
            }
        }
        self.pictures += 1;
        let v = &drawing.validation;
        if !v.is_usable() {
            self.with_errors += 1;
            let first = v
                .issues
                .iter()
                .find(|i| i.severity == neuromorpho::swc::Severity::Error)
                .map(|i| format!(" (first: {})", neuromorpho::text::escape(&i.to_string())))
                .unwrap_or_default();
            output::say(&format!(
                "{name}: drawn as far as it can be read: {}{first}",
                plural(v.errors as u64, "error", "errors")
            ));
        }
        ControlFlow::Continue(())
    }

    /// Where the picture of `input` goes: beside it, or under `-o` with the file's path
    /// below the folder it was found in (a file given by name: its name alone).
    fn target_for(&self, input: &Path) -> PathBuf {
        let Some(dir) = self.out_dir else {
            return picture_name(input, self.view);
        };
        if input.as_os_str() == "-" {
            return dir.join(picture_name(Path::new("stdin"), self.view));
        }
        let below = self
            .paths
            .iter()
            .filter(|root| input != root.as_path())
            .find_map(|root| input.strip_prefix(root).ok())
            .filter(|rel| !rel.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| input.file_name().map(PathBuf::from).unwrap_or_default());
        dir.join(picture_name(&below, self.view))
    }

    fn write(&mut self, input: &Path, target: &Path, svg: &str) -> Result<(), String> {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if same(input, target) {
            return Err(format!(
                "not drawn: its picture would replace it ({} is the input)",
                shown(target)
            ));
        }
        if !self.written.insert(target.to_path_buf()) {
            return Err(format!(
                "not drawn: {} was written for another file of this run",
                shown(target)
            ));
        }
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", shown(parent)))?;
        }
        neuromorpho::store::write_atomically(target, svg.as_bytes(), false)
            .map_err(|e| format!("cannot write {}: {e}", shown(target)))
    }
}

/// `cell.swc` -> `cell.svg` (xy) or `cell.sheet.svg` (another view).
fn picture_name(input: &Path, view: View) -> PathBuf {
    let ext = match view {
        View::Xy => "svg".to_string(),
        other => format!("{other}.svg"),
    };
    input.with_extension(ext)
}

fn shown(p: &Path) -> String {
    neuromorpho::text::escape(&p.to_string_lossy()).into_owned()
}

/// The paths as given, for a message (at most three named).
fn shown_paths(paths: &[PathBuf]) -> String {
    let mut names: Vec<String> = paths.iter().take(3).map(|p| shown(p)).collect();
    if paths.len() > 3 {
        names.push(format!("and {} more", paths.len() - 3));
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_named_after_their_file_and_view() {
        assert_eq!(
            picture_name(Path::new("d/a.CNG.swc"), View::Xy),
            Path::new("d/a.CNG.svg")
        );
        assert_eq!(
            picture_name(Path::new("a.swc"), View::Dendrogram),
            Path::new("a.dendrogram.svg")
        );
        assert_eq!(
            picture_name(Path::new("noext"), View::Xy),
            Path::new("noext.svg")
        );
        let paths = [PathBuf::from("in"), PathBuf::from("one.swc")];
        let run = Run {
            paths: &paths,
            out_dir: Some(Path::new("out")),
            view: View::Xy,
            written: HashSet::new(),
            pictures: 0,
            with_errors: 0,
            not_drawn: 0,
            read: 0,
            out_error: None,
        };
        assert_eq!(
            run.target_for(Path::new("in/sub/x.swc")),
            Path::new("out/sub/x.svg")
        );
        assert_eq!(
            run.target_for(Path::new("one.swc")),
            Path::new("out/one.svg")
        );
        assert_eq!(run.target_for(Path::new("-")), Path::new("out/stdin.svg"));
    }
}
