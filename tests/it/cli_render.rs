//! Issue 20 from the command line: `neuromorpho render PATH... [-o OUT]` (an SVG per SWC
//! file, folders walked as `check` walks them, beside each file or under OUT, written
//! atomically, never over an input; a file with errors drawn and named on stderr, an
//! unreadable one a one-line error; exit codes as `check`'s; Ctrl-C leaves whole pictures)
//! and `neuromorpho report OUT`'s exit codes and messages.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::svg::parse_xml;
use support::*;

fn render(args: &[&str]) -> CliOutput {
    let o = Cli::new().arg("render").args(args).run();
    println!("render {args:?}: exit {}\n{}", o.code, o.err);
    o
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A folder with two fixtures at its top and one in a sub-folder.
fn input_folder() -> (TempDir, PathBuf) {
    let dir = TempDir::new();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    for (from, to) in [
        ("swc/p19.CNG.swc", "p19.CNG.swc"),
        ("swc/C130301C.CNG.swc", "C130301C.CNG.swc"),
        ("swc/alxP.CNG.swc", "sub/alxP.CNG.swc"),
    ] {
        std::fs::copy(fixtures_dir().join(from), input.join(to)).unwrap();
    }
    (dir, input)
}

/// The SVG at `path`, parsed (well-formed), and its width attribute.
fn svg_width(path: &Path) -> f64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let root = parse_xml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    root.attr("width").trim_end_matches("px").parse().unwrap()
}

#[test]
fn a_folder_is_drawn_into_out_keeping_its_sub_folders() {
    let (dir, input) = input_folder();
    let out = dir.path().join("pictures");
    let o = render(&[s(&input), "-o", s(&out)]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(o.out, "", "nothing on stdout");
    let mut got: Vec<String> = files_under(&out)
        .iter()
        .map(|p| p.strip_prefix(&out).unwrap().to_string_lossy().into_owned())
        .collect();
    got.sort();
    assert_eq!(got, ["C130301C.CNG.svg", "p19.CNG.svg", "sub/alxP.CNG.svg"]);
    for f in &got {
        assert!(svg_width(&out.join(f)) > 100.0, "{f}");
    }
    assert!(
        o.err.contains("rendered 3 pictures of 3 files") && o.err.contains(s(&out)),
        "{}",
        o.err
    );
    // The inputs are untouched and nothing was written beside them.
    assert_eq!(files_under(&input).len(), 3);
    assert_eq!(part_files(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn beside_each_file_by_default_named_by_view_and_sized_as_asked() {
    let (_dir, input) = input_folder();
    let cell = input.join("p19.CNG.swc");
    let o = render(&[s(&cell)]);
    assert_eq!(o.code, 0, "{}", o.err);
    let xy = input.join("p19.CNG.svg");
    let default_width = svg_width(&xy);
    let o = render(&[
        s(&cell),
        "--view",
        "dendrogram",
        "--size",
        "300",
        "--width",
        "1",
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let dendrogram = input.join("p19.CNG.dendrogram.svg");
    assert!(
        svg_width(&dendrogram) < default_width,
        "--size is the picture's size"
    );
    let text = std::fs::read_to_string(&dendrogram).unwrap();
    assert_ne!(text, std::fs::read_to_string(&xy).unwrap());
    // Drawn again: replaced in place, atomically (no temporary file left).
    let o = render(&[s(&cell)]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(part_files(&input), Vec::<PathBuf>::new());
}

#[test]
fn a_file_with_errors_is_drawn_and_named_an_unreadable_one_is_an_error_line() {
    let dir = TempDir::new();
    let broken = dir.path().join("missing-parent.swc");
    std::fs::copy(
        fixtures_dir().join("swc-broken/missing-parent.swc"),
        &broken,
    )
    .unwrap();
    let html = dir.path().join("html.swc");
    std::fs::copy(fixtures_dir().join("swc-broken/html.swc"), &html).unwrap();
    let good = dir.path().join("good.swc");
    std::fs::copy(fixtures_dir().join("swc/p19.CNG.swc"), &good).unwrap();

    let o = render(&[s(&broken)]);
    assert_eq!(o.code, 3, "a file with errors: exit 3\n{}", o.err);
    let picture = std::fs::read_to_string(dir.path().join("missing-parent.svg")).unwrap();
    parse_xml(&picture).unwrap();
    assert!(picture.contains("error"), "the picture says so");
    let line = o
        .err
        .lines()
        .find(|l| l.contains("missing-parent.swc:"))
        .unwrap_or_else(|| panic!("{}", o.err));
    assert!(line.contains("drawn as far as it can be read") && line.contains("missing-parent"));

    let o = render(&[s(&html), s(&good)]);
    assert_eq!(o.code, 3, "{}", o.err);
    let errors: Vec<&str> = o.err.lines().filter(|l| l.contains("error: ")).collect();
    assert_eq!(errors.len(), 1, "one line for the file: {}", o.err);
    assert!(errors[0].contains("html.swc"), "{}", errors[0]);
    assert!(!dir.path().join("html.svg").exists(), "no picture of it");
    assert!(
        dir.path().join("good.svg").is_file(),
        "the others are drawn"
    );

    // Nothing readable at all: exit 1, as check.
    let o = render(&[s(&dir.path().join("nowhere.swc"))]);
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(o.err.contains("nowhere.swc"), "{}", o.err);
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = render(&[s(&empty)]);
    assert_eq!(o.code, 1);
    assert!(o.err.contains("no .swc file found"), "{}", o.err);
}

#[test]
fn an_input_is_never_overwritten_and_two_files_never_share_a_picture() {
    let dir = TempDir::new();
    let swc = std::fs::read(fixtures_dir().join("swc/p19.CNG.swc")).unwrap();
    // A file given by name whatever its name: one called .svg would be its own picture.
    let odd = dir.path().join("cell.svg");
    std::fs::write(&odd, &swc).unwrap();
    let o = render(&[s(&odd)]);
    assert_eq!(o.code, 3, "{}", o.err);
    assert_eq!(std::fs::read(&odd).unwrap(), swc, "the input is intact");
    assert!(o.err.contains("would replace it"), "{}", o.err);
    // a/x.swc and b/x.swc given by name into one OUT: the second is refused, not written over.
    for d in ["a", "b"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
        std::fs::write(dir.path().join(d).join("x.swc"), &swc).unwrap();
    }
    let out = dir.path().join("out");
    let (a, b) = (dir.path().join("a/x.swc"), dir.path().join("b/x.swc"));
    let o = render(&[s(&a), s(&b), "-o", s(&out)]);
    assert_eq!(o.code, 3, "{}", o.err);
    assert!(out.join("x.svg").is_file());
    assert!(o.err.contains("written for another file"), "{}", o.err);
}

#[test]
fn stdin_is_drawn_to_stdout() {
    let swc = std::fs::read(fixtures_dir().join("swc/p19.CNG.swc")).unwrap();
    let o = Cli::new().args(["render", "-"]).stdin(swc).run();
    assert_eq!(o.code, 0, "{}", o.err);
    parse_xml(&o.out).unwrap();
    assert!(o.out.starts_with("<svg ") && o.out.ends_with("</svg>\n"));
    assert!(o.err.contains("rendered 1 picture of 1 file"), "{}", o.err);
}

#[test]
fn usage_errors_name_the_option() {
    for (args, word) in [
        (vec!["x.swc", "--view", "top"], "--view"),
        (vec!["x.swc", "--width", "0"], "--width"),
        (vec!["x.swc", "--size", "big"], "--size"),
        (vec![], "no path given"),
    ] {
        let o = render(&args);
        assert_eq!(o.code, 2, "{args:?}: {}", o.err);
        assert!(o.err.contains(word), "{args:?}: {}", o.err);
    }
}

#[test]
fn ctrl_c_stops_with_whole_pictures_and_exit_130() {
    let dir = TempDir::new();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let big = std::fs::read(fixtures_dir().join("swc/MTC260800D-IDA.CNG.swc")).unwrap();
    for i in 0..300 {
        std::fs::write(input.join(format!("n{i:03}.swc")), &big).unwrap();
    }
    let out = dir.path().join("out");
    let mut child = Cli::new()
        .args(["render", s(&input), "-o", s(&out), "-c", "1"])
        .command()
        .spawn()
        .unwrap();
    // Once the first picture is there, interrupt.
    let started = Instant::now();
    while files_under(&out).iter().all(|p| is_part(p)) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no picture in 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    send_signal(child.id(), "INT");
    let code = wait_exit(&mut child, Duration::from_secs(60));
    assert_eq!(code, 130);
    let written = files_under(&out);
    assert!(
        !written.is_empty() && written.len() < 300,
        "{}",
        written.len()
    );
    assert_eq!(
        part_files(&out),
        Vec::<PathBuf>::new(),
        "no partial picture"
    );
    for p in &written {
        svg_width(p);
    }
}

#[test]
fn report_names_its_page_and_what_it_could_not_draw() {
    let server = FakeServer::start(Catalog::generate(6));
    let dir = TempDir::new();
    let out = dir.path().join("n");
    let o = cli(&server)
        .args(["download", "--all", "-o", s(&out), "--no-log"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let o = cli(&server).args(["report", s(&out)]).run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(o
        .err
        .contains(&format!("page: {}", out.join("index.html").display())));
    assert!(
        o.err.contains("without verdicts"),
        "no checks.csv: {}",
        o.err
    );
    // With the verdicts (and so the measures' histograms).
    let o = cli(&server)
        .args(["download", "--all", "-o", s(&out), "--no-log", "--check"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    // A file that is no longer SWC: the page is built, the file named, exit 3.
    let victim = cng_file(&out, &server, 2);
    std::fs::write(&victim, b"<html>gone</html>").unwrap();
    let o = cli(&server)
        .args([
            "report",
            "-o",
            s(&out),
            "--split-by",
            "cell_type",
            "--columns",
            "species",
        ])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    let line = o.err.lines().find(|l| l.contains("not drawn:")).unwrap();
    assert!(
        line.contains(&server.catalog().name(2).to_string()),
        "{line}"
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("by <b>cell_type</b>"), "--split-by is used");
    // --no-thumbnails: a page without pictures.
    let o = cli(&server)
        .args(["report", s(&out), "--no-thumbnails"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    // Not a folder: exit 1, one line.
    let o = cli(&server)
        .args(["report", s(&dir.path().join("nothing"))])
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(o.err.contains("not a folder"), "{}", o.err);
}
