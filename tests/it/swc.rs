//! The SWC reader, validator, measures and file checks, against the real fixtures, NeuroM's
//! recorded numbers (`fixtures/neurom/neurom.json`), hand-made broken files
//! (`fixtures/swc-broken/`) and random inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use neuromorpho::swc::{check_bytes, check_file, check_paths, check_reader, CheckOptions};
use neuromorpho::swc::{IssueCode, Morphology, Point, Severity, ISSUES_PER_CODE};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn swc_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "swc"))
        .collect();
    files.sort();
    files
}

fn neurom() -> Value {
    serde_json::from_slice(&read(&fixtures().join("neurom/neurom.json"))).unwrap()
}

/// The data lines of a file, counted the simple way: (1-based line, first field, type).
fn data_lines(bytes: &[u8]) -> Vec<(usize, String, String)> {
    String::from_utf8_lossy(bytes)
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            let mut f = l.split_whitespace();
            (
                i + 1,
                f.next().unwrap().to_string(),
                f.next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Lengths: MorphIO stores f32 points and NeuroM sums in f32; we read and sum f64.
fn assert_close(what: &str, ours: f64, theirs: f64, rel: f64) {
    let tolerance = rel * theirs.abs().max(1.0);
    assert!(
        (ours - theirs).abs() <= tolerance,
        "{what}: ours {ours}, NeuroM {theirs} (difference {:e})",
        ours - theirs
    );
}

/// Our measures against NeuroM's record of one file.
fn compare_with_neurom(file: &str, m: &Morphology, rec: &Value) {
    let ours = m.measures();
    let n = |key: &str| {
        rec[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{file}: no {key}")) as usize
    };
    assert_eq!(ours.stems, n("number_of_neurites"), "{file}: stems");
    assert_eq!(
        ours.bifurcations,
        n("number_of_bifurcations"),
        "{file}: bifurcations"
    );
    assert_eq!(ours.tips, n("number_of_leaves"), "{file}: tips");
    assert_close(
        &format!("{file}: total_length"),
        ours.total_length,
        rec["total_length"].as_f64().unwrap(),
        2e-6,
    );
    // Against the f64 sum of the same f32 points, the only difference is f32 rounding.
    assert_close(
        &format!("{file}: total_length (f64 sum)"),
        ours.total_length,
        rec["total_length_float64"].as_f64().unwrap(),
        1e-7,
    );
    match (&rec["bounding_box"], ours.neurite_bounding_box) {
        (Value::Null, None) => {}
        (Value::Array(rows), Some(bb)) => {
            for (k, (lo, hi)) in bb.min.iter().zip(bb.max.iter()).enumerate() {
                assert_close(
                    &format!("{file}: min[{k}]"),
                    *lo,
                    rows[0][k].as_f64().unwrap(),
                    1e-6,
                );
                assert_close(
                    &format!("{file}: max[{k}]"),
                    *hi,
                    rows[1][k].as_f64().unwrap(),
                    1e-6,
                );
            }
        }
        (theirs, ours) => panic!("{file}: bounding box {ours:?} vs NeuroM {theirs}"),
    }
}

#[test]
fn every_real_fixture_parses_and_matches_neurom() {
    let record = neurom();
    let files = swc_files(&fixtures().join("swc"));
    assert_eq!(files.len(), 25);
    let recorded: BTreeSet<&String> = record["files"].as_object().unwrap().keys().collect();
    let present: BTreeSet<String> = files.iter().map(|p| name(p)).collect();
    assert_eq!(
        recorded,
        present.iter().collect(),
        "neurom.json lists exactly the fixtures"
    );

    let mut compared = 0;
    for path in &files {
        let file = name(path);
        let m = Morphology::from_path(path).unwrap_or_else(|e| panic!("{e}"));
        let lines = data_lines(&read(path));
        assert_eq!(m.points().len(), lines.len(), "{file}");
        let ours: Vec<(usize, String)> = m
            .points()
            .iter()
            .map(|p| (p.line, p.id.to_string()))
            .collect();
        let simple: Vec<(usize, String)> = lines.into_iter().map(|(l, id, _)| (l, id)).collect();
        assert_eq!(ours, simple, "{file}: lines and ids");
        assert!(
            !m.comments().is_empty(),
            "{file}: every fixture has a header"
        );
        let v = m.validate();
        assert!(v.is_usable(), "{file}: {:?}", v.issues);
        let rec = &record["files"][&file];
        if rec["neurom_loaded"].as_bool().unwrap() {
            compare_with_neurom(&file, &m, rec);
            compared += 1;
        } else {
            // MorphIO refuses it, and we say why.
            assert!(rec["morphio_error"]
                .as_str()
                .unwrap()
                .contains("soma bifurcation"));
            assert!(v.has(IssueCode::SomaBifurcation), "{file}");
        }
    }
    assert_eq!(compared, 24, "all but dCH-cobalt are read by NeuroM");
}

#[test]
fn dch_cobalt_reports_the_soma_bifurcation_and_is_still_measured() {
    let path = fixtures().join("swc/dCH-cobalt.CNG.swc");
    let report = check_file(&path, &CheckOptions::default()).report;
    let forks: Vec<_> = report
        .issues
        .iter()
        .filter(|i| i.code == IssueCode::SomaBifurcation)
        .collect();
    // MorphIO: "dCH-cobalt.CNG.swc:34:error Found soma bifurcation ... :35 ... :37".
    let first = forks.first().expect("a soma bifurcation");
    assert_eq!(first.severity, Severity::Warning);
    assert_eq!(first.line, Some(34));
    assert!(first.message.contains("lines 35, 37"), "{}", first.message);
    let soma = report
        .issues
        .iter()
        .find(|i| i.code == IssueCode::MultiPointSoma)
        .unwrap();
    assert!(soma.message.contains("branched"), "{}", soma.message);
    assert!(report.is_usable());
    assert!(report.stems.unwrap() > 0 && report.total_length.unwrap() > 0.0);
}

/// The issues a file must give, in order: (code, line).
type Expected = Vec<(IssueCode, Option<usize>)>;

/// The expected issues of each hand-made file.
fn broken_cases() -> Vec<(&'static str, Expected)> {
    use IssueCode::*;
    vec![
        ("empty.swc", vec![(Empty, Some(3))]),
        ("html.swc", vec![(Html, Some(2))]),
        ("too-few-fields.swc", vec![(TooFewFields, Some(3))]),
        ("not-a-number.swc", vec![(NotANumber, Some(3))]),
        ("not-an-integer.swc", vec![(NotAnInteger, Some(3))]),
        (
            "non-finite.swc",
            vec![(NonFinite, Some(3)), (NonFinite, Some(4))],
        ),
        ("bad-id.swc", vec![(BadId, Some(3))]),
        ("duplicate-id.swc", vec![(DuplicateId, Some(4))]),
        ("missing-parent.swc", vec![(MissingParent, Some(4))]),
        // Point 3's parent 4 is listed after it.
        ("cycle.swc", vec![(OutOfOrder, Some(4)), (Cycle, Some(4))]),
        (
            "no-root.swc",
            vec![
                (OutOfOrder, Some(2)),
                (SomaChildOfNeurite, Some(2)),
                (Cycle, Some(2)),
                (NoRoot, None),
            ],
        ),
        ("several-roots.swc", vec![(SeveralRoots, Some(4))]),
        ("no-soma.swc", vec![(NoSoma, None)]),
        ("multi-point-soma.swc", vec![(MultiPointSoma, Some(2))]),
        (
            "soma-bifurcation.swc",
            vec![(MultiPointSoma, Some(2)), (SomaBifurcation, Some(3))],
        ),
        (
            "soma-child-of-neurite.swc",
            vec![(MultiPointSoma, Some(2)), (SomaChildOfNeurite, Some(4))],
        ),
        ("unsupported-type.swc", vec![(UnsupportedType, Some(3))]),
        ("unifurcation.swc", vec![(Unifurcation, Some(4))]),
        ("type-change.swc", vec![(TypeChange, Some(5))]),
        ("multifurcation.swc", vec![(Multifurcation, Some(3))]),
        (
            "non-positive-radius.swc",
            vec![(NonPositiveRadius, Some(4))],
        ),
        (
            "zero-length-segment.swc",
            vec![(ZeroLengthSegment, Some(4))],
        ),
        ("out-of-order.swc", vec![(OutOfOrder, Some(3))]),
        ("non-ascii.swc", vec![(NonAscii, Some(1))]),
    ]
}

#[test]
fn every_issue_code_has_a_broken_file_with_its_line_and_severity() {
    let dir = fixtures().join("swc-broken");
    let mut covered = BTreeSet::new();
    for (file, expected) in broken_cases() {
        let report = check_bytes(&read(&dir.join(file)));
        let got: Vec<(IssueCode, Severity, Option<usize>)> = report
            .issues
            .iter()
            .map(|i| (i.code, i.severity, i.line))
            .collect();
        let want: Vec<(IssueCode, Severity, Option<usize>)> = expected
            .iter()
            .map(|&(c, l)| (c, c.severity(), l))
            .collect();
        assert_eq!(got, want, "{file}: {:#?}", report.issues);
        for issue in &report.issues {
            assert!(!issue.message.is_empty());
            covered.insert(issue.code);
        }
        let errors = want.iter().filter(|w| w.1 == Severity::Error).count();
        assert_eq!(
            (report.errors, report.warnings),
            (errors, want.len() - errors),
            "{file}"
        );
        // Measures only for a usable tree.
        assert_eq!(report.stems.is_some(), errors == 0, "{file}");
    }
    // `io` and `too-large` cannot be files: see the check tests.
    let missing: Vec<_> = IssueCode::ALL
        .iter()
        .filter(|c| !covered.contains(*c) && !matches!(c, IssueCode::Io | IssueCode::TooLarge))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a broken file: {missing:?}"
    );
}

#[test]
fn hand_made_files_match_neurom_and_what_morphio_refuses_is_flagged() {
    let record = neurom();
    let dir = fixtures().join("swc-broken");
    let mut compared = 0;
    for (file, rec) in record["hand_made"].as_object().unwrap() {
        let report = check_bytes(&read(&dir.join(file)));
        if !rec["morphio_loaded"].as_bool().unwrap() {
            assert!(
                !report.issues.is_empty(),
                "{file}: MorphIO refuses it, we say nothing"
            );
        }
        // Compare where both read a usable tree (MorphIO drops a cycle silently, reads an
        // empty file as an empty morphology).
        if rec["neurom_loaded"].as_bool().unwrap() && report.is_usable() {
            let m = Morphology::from_bytes(&read(&dir.join(file))).unwrap();
            compare_with_neurom(file, &m, rec);
            compared += 1;
        }
    }
    assert!(compared >= 17, "{compared}");
}

#[test]
fn soma_shapes_are_named() {
    let dir = fixtures().join("swc-broken");
    let shape = |file: &str| {
        let report = check_bytes(&read(&dir.join(file)));
        report
            .issues
            .into_iter()
            .find(|i| i.code == IssueCode::MultiPointSoma)
            .map(|i| i.message)
            .unwrap_or_default()
    };
    assert!(shape("multi-point-soma.swc").starts_with("3-point soma (NeuroMorpho"));
    assert!(!shape("multi-point-soma.swc").contains("MorphIO reads it"));
    assert!(shape("edge-three-point-soma-other-ids.swc").contains("MorphIO reads it as a stack"));
    assert!(shape("edge-soma-contour.swc").contains("6-point soma: a contour"));
    assert!(shape("edge-soma-cylinders.swc").contains("3-point soma: a stack of cylinders"));
    assert!(shape("edge-two-somata.swc").contains("2 separate groups"));
    let p19 = check_bytes(&read(&fixtures().join("swc/p19.CNG.swc")));
    let soma = p19
        .issues
        .iter()
        .find(|i| i.code == IssueCode::MultiPointSoma)
        .unwrap();
    assert!(
        soma.message.contains("29-point soma: a stack of cylinders"),
        "{}",
        soma.message
    );
    let two = check_bytes(&read(&dir.join("edge-two-somata.swc")));
    let root = two
        .issues
        .iter()
        .find(|i| i.code == IssueCode::SeveralRoots)
        .unwrap();
    assert_eq!(root.line, Some(4));
    assert!(root.message.contains("several somata"), "{}", root.message);
}

#[test]
fn unsupported_types_say_which_morphio_refuses() {
    let message = |kind: i32| {
        let text = format!("1 1 0 0 0 5 -1\n2 {kind} 0 5 0 1 1\n");
        let v = Morphology::from_bytes(text.as_bytes()).unwrap().validate();
        v.issues
            .into_iter()
            .find(|i| i.code == IssueCode::UnsupportedType)
            .map(|i| i.message)
    };
    assert!(message(0)
        .unwrap()
        .contains("0 (undefined); MorphIO before 3.5"));
    assert!(message(-1)
        .unwrap()
        .contains("-1 (negative); MorphIO refuses"));
    assert!(message(20)
        .unwrap()
        .contains("20 (custom); MorphIO refuses"));
    assert_eq!(message(19), None);
    assert_eq!(message(2), None);
}

// ------------------------------------------------------------------------------------------
// The reader

fn strip_lines(points: &[Point]) -> Vec<(i64, i32, [u64; 4], i64)> {
    points
        .iter()
        .map(|p| {
            (
                p.id,
                p.kind,
                [
                    p.x.to_bits(),
                    p.y.to_bits(),
                    p.z.to_bits(),
                    p.radius.to_bits(),
                ],
                p.parent,
            )
        })
        .collect()
}

#[test]
fn line_endings_bom_tabs_and_comments_give_identical_points() {
    let original = read(&fixtures().join("swc/C121005C.CNG.swc"));
    let base = Morphology::from_bytes(&original).unwrap();
    let text = String::from_utf8(original.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let data = |f: &dyn Fn(&str) -> String| -> String {
        lines
            .iter()
            .map(|l| {
                if l.starts_with('#') {
                    l.to_string()
                } else {
                    f(l)
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("CRLF", text.replace('\n', "\r\n").into_bytes()),
        ("CR", text.replace('\n', "\r").into_bytes()),
        (
            "BOM + CRLF",
            [
                b"\xEF\xBB\xBF".as_slice(),
                text.replace('\n', "\r\n").as_bytes(),
            ]
            .concat(),
        ),
        ("no final newline", text.trim_end().as_bytes().to_vec()),
        ("tabs", data(&|l| l.replace(' ', "\t")).into_bytes()),
        (
            "runs of spaces and tabs",
            data(&|l| format!(" \t {}  ", l.replace(' ', " \t  "))).into_bytes(),
        ),
        (
            "extra fields",
            data(&|l| format!("{l} 0.5 extra \u{e9}")).into_bytes(),
        ),
        (
            "trailing comment",
            data(&|l| format!("{l} # a note")).into_bytes(),
        ),
        (
            "blank lines and comments between",
            data(&|l| format!("\n# between\n   \n{l}")).into_bytes(),
        ),
        (
            "mixed endings",
            lines
                .iter()
                .enumerate()
                .map(|(i, l)| format!("{l}{}", ["\n", "\r\n", "\r"][i % 3]))
                .collect::<String>()
                .into_bytes(),
        ),
    ];
    for (what, bytes) in variants {
        let m = Morphology::from_bytes(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            strip_lines(m.points()),
            strip_lines(base.points()),
            "{what}"
        );
        assert_eq!(
            m.measures().total_length,
            base.measures().total_length,
            "{what}"
        );
    }
    // Line numbers follow the line endings.
    let cr = Morphology::from_bytes(text.replace('\n', "\r").as_bytes()).unwrap();
    assert_eq!(
        cr.points().iter().map(|p| p.line).collect::<Vec<_>>(),
        base.points().iter().map(|p| p.line).collect::<Vec<_>>()
    );
}

#[test]
fn header_comments_are_kept_and_bad_bytes_never_fail() {
    let m = Morphology::from_bytes(
        b"\xEF\xBB\xBF# ORIGINAL_SOURCE Neurolucida\r\n#  r\xE9gion \t\r\n1 1 0 0 0 5 -1\n# later\n",
    )
    .unwrap();
    let texts: Vec<(usize, &str)> = m
        .comments()
        .iter()
        .map(|c| (c.line, c.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            (1, " ORIGINAL_SOURCE Neurolucida"),
            (2, "  r\u{FFFD}gion"),
            (4, " later")
        ]
    );
    let v = m.validate();
    let non_ascii = v
        .issues
        .iter()
        .find(|i| i.code == IssueCode::NonAscii)
        .unwrap();
    assert_eq!(non_ascii.line, Some(2));
    assert!(
        non_ascii.message.contains("not valid UTF-8"),
        "{}",
        non_ascii.message
    );
}

#[test]
fn parse_errors_name_the_line_and_the_text() {
    let cases: &[(&[u8], IssueCode, usize, &str)] = &[
        (
            b"1 1 0 0 0 5 -1\n\n2 3 abc 0 0 1 1\n",
            IssueCode::NotANumber,
            3,
            "'abc' is not a number (x)",
        ),
        (
            b"1 1 0 0 0 5 -1\n2 3 0 0 0 1x 1\n",
            IssueCode::NotANumber,
            2,
            "'1x' is not a number (radius)",
        ),
        (
            b"1 1 0 0 0 5 -1\n2 3 0 0 0 1 1.0\n",
            IssueCode::NotAnInteger,
            2,
            "'1.0' is not an integer (parent)",
        ),
        (
            b"1 1.5 0 0 0 5 -1\n",
            IssueCode::NotAnInteger,
            1,
            "'1.5' is not an integer (type)",
        ),
        (
            b"abc 1 0 0 0 5 -1\n",
            IssueCode::NotANumber,
            1,
            "'abc' is not a number (id)",
        ),
        (
            b"99999999999999999999 1 0 0 0 5 -1\n",
            IssueCode::NotAnInteger,
            1,
            "is out of range (id)",
        ),
        (
            b"1 3000000000 0 0 0 5 -1\n",
            IssueCode::NotAnInteger,
            1,
            "'3000000000' is out of range (type)",
        ),
        (
            b"# h\n1 1 0 0 0\n",
            IssueCode::TooFewFields,
            2,
            "'1 1 0 0 0' has 5 fields",
        ),
        (
            b"1 1 0 0 0 5 # -1\n",
            IssueCode::TooFewFields,
            1,
            "'1 1 0 0 0 5' has 6 fields",
        ),
        (b"", IssueCode::Empty, 1, "the file is empty"),
        (b"\n \r\n\t\n", IssueCode::Empty, 3, "only blank lines"),
        (b"#a\n#b\n", IssueCode::Empty, 2, "only comments"),
        (b"  <html><body>", IssueCode::Html, 1, "an HTML or XML page"),
        (
            b"\xEF\xBB\xBF<?xml version=\"1.0\"?>",
            IssueCode::Html,
            1,
            "an HTML or XML page",
        ),
        (
            b"1 1 0 0 \xFF\xFE 5 -1\n",
            IssueCode::NotANumber,
            1,
            "'\u{FFFD}\u{FFFD}' is not a number (z)",
        ),
    ];
    for &(bytes, code, line, text) in cases {
        let e = Morphology::from_bytes(bytes).unwrap_err();
        assert_eq!(
            (e.code, e.line),
            (code, line),
            "{}",
            String::from_utf8_lossy(bytes)
        );
        assert!(e.message.contains(text), "{e}");
        assert!(e.to_string().starts_with(&format!("line {line}: ")), "{e}");
        // check_bytes turns it into a report with that one error.
        let r = check_bytes(bytes);
        assert_eq!((r.errors, r.points, r.issues.len()), (1, None, 1));
        assert_eq!((r.issues[0].code, r.issues[0].line), (code, Some(line)));
    }
    // A hostile line is quoted, not copied.
    let long = format!("1 1 {} 0 0 5 -1\n", "x".repeat(100_000));
    let e = Morphology::from_bytes(long.as_bytes()).unwrap_err();
    assert!(e.message.len() < 200, "{}", e.message.len());
}

#[test]
fn nan_and_infinities_are_read_then_refused_by_the_validator() {
    let m = Morphology::from_bytes(b"1 1 0 0 0 5 -1\n2 3 NaN -inf 0 infinity 1\n").unwrap();
    assert!(m.points()[1].x.is_nan());
    let v = m.validate();
    let issue = &v.issues[0];
    assert_eq!((issue.code, issue.line), (IssueCode::NonFinite, Some(2)));
    assert!(
        issue.message.contains("x, y, radius are not finite"),
        "{}",
        issue.message
    );
    assert!(check_bytes(b"1 1 0 0 0 5 -1\n2 3 NaN 0 0 1 1\n")
        .total_length
        .is_none());
}

#[test]
fn hostile_ids_do_not_allocate_by_value() {
    // Ids far apart: a table indexed by id would need terabytes.
    let text = "9999999999999 1 0 0 0 5 -1\n-9223372036854775808 3 0 5 0 1 9999999999999\n\
                9223372036854775807 3 0 9 0 1 -9223372036854775808\n";
    let m = Morphology::from_bytes(text.as_bytes()).unwrap();
    assert_eq!(m.parent(2), Some(1));
    assert_eq!(m.parent(1), Some(0));
    let v = m.validate();
    assert!(v.has(IssueCode::BadId));
    assert_eq!(m.measures().total_length, 4.0);
}

#[test]
fn many_issues_are_folded_but_counted() {
    let mut text = String::from("1 1 0 0 0 5 -1\n");
    for id in 2..=1001 {
        text.push_str(&format!("{id} 3 0 {id} 0 0 {}\n", id - 1));
    }
    let r = check_bytes(text.as_bytes());
    let zero: Vec<_> = r
        .issues
        .iter()
        .filter(|i| i.code == IssueCode::NonPositiveRadius)
        .collect();
    assert_eq!(zero.len(), ISSUES_PER_CODE + 1);
    assert_eq!(zero.last().unwrap().line, None);
    assert!(zero.last().unwrap().message.contains("990 more"));
    assert_eq!(r.warnings, 1000);
    assert_eq!(r.tips, Some(1));
}

#[test]
fn tree_accessors() {
    let m =
        Morphology::from_bytes(b"1 1 0 0 0 5 -1\n3 3 0 9 0 1 2\n2 3 0 5 0 1 1\n4 2 0 -5 0 1 1\n")
            .unwrap();
    assert_eq!(m.roots().collect::<Vec<_>>(), [0]);
    assert_eq!(m.children(0).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(m.children(2).collect::<Vec<_>>(), [1]);
    assert_eq!(m.parent(1), Some(2));
    assert_eq!(
        (m.parent(0), m.parent(99), m.children(99).len()),
        (None, None, 0)
    );
    assert_eq!(m.index_of(3), Some(1));
    let me = m.measures();
    assert_eq!(
        (me.stems, me.tips, me.bifurcations, me.soma_points),
        (2, 2, 0, 1)
    );
    assert_eq!(me.total_length, 4.0);
    assert_eq!(
        (me.bounding_box.min, me.bounding_box.max),
        ([0.0, -5.0, 0.0], [0.0, 9.0, 0.0])
    );
}

// ------------------------------------------------------------------------------------------
// Random inputs: never a panic; a Morphology or an error with a line.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn line_count(bytes: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < bytes.len() {
        n += 1;
        while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
            i += 1;
        }
        if bytes[i..].starts_with(b"\r\n") {
            i += 2;
        } else {
            i += 1;
        }
    }
    n
}

fn assert_sane(bytes: &[u8]) {
    let lines = line_count(bytes).max(1);
    match Morphology::from_bytes(bytes) {
        Ok(m) => {
            let v = m.validate();
            for issue in &v.issues {
                assert!(
                    issue.line.is_none_or(|l| (1..=lines).contains(&l)),
                    "{issue}"
                );
            }
            let me = m.measures();
            assert_eq!(me.points, m.points().len());
            assert!(me.stems + me.tips + me.bifurcations <= 3 * me.points);
            let r = check_bytes(bytes);
            assert_eq!(r.errors, v.errors);
            let json = serde_json::json!(r.issues);
            assert!(json.is_array());
        }
        Err(e) => {
            assert!(
                (1..=lines).contains(&e.line),
                "line {} of {lines}: {e}",
                e.line
            );
            assert!(!e.message.is_empty());
        }
    }
}

#[test]
fn random_bytes_and_mutated_files_never_panic() {
    let mut rng = Rng(0x5EED_CAFE_F00D_BEEF);
    // Pure noise, and noise from an alphabet that reaches deeper into the parser.
    let alphabet = b"0123456789 -+.e#\n\r\tnaifNAIF<>x\xEF\xBB\xBF\xFF";
    for round in 0..300 {
        let len = rng.below(600);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if round % 2 == 0 {
                    rng.next() as u8
                } else {
                    alphabet[rng.below(alphabet.len())]
                }
            })
            .collect();
        assert_sane(&bytes);
    }
    let sources: Vec<Vec<u8>> = [
        "SM090312A1-5-IDC.CNG.swc",
        "OG061108A1-3-IDD.CNG.swc",
        "04a_pyramidal4aACC.CNG.swc",
    ]
    .iter()
    .map(|f| read(&fixtures().join("swc").join(f)))
    .collect();
    let junk: [&[u8]; 6] = [
        b"nan",
        b"\n1 1 0 0 0 5 -1\n",
        b"#",
        b"\r",
        b" -1 ",
        b"\xC3\x28",
    ];
    for round in 0..2_000 {
        let mut bytes = sources[round % sources.len()].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(6) {
                0 if !bytes.is_empty() => {
                    let i = at.min(bytes.len() - 1);
                    bytes[i] ^= 1 << rng.below(8);
                }
                1 => bytes.truncate(at),
                2 | 3 => {
                    // Delete or duplicate the line around `at`.
                    let start = bytes[..at]
                        .iter()
                        .rposition(|&b| b == b'\n')
                        .map_or(0, |i| i + 1);
                    let end = bytes[at..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(bytes.len(), |i| at + i + 1);
                    let line = bytes[start..end].to_vec();
                    if rng.below(2) == 0 {
                        bytes.drain(start..end);
                    } else {
                        bytes.splice(start..start, line);
                    }
                }
                _ => {
                    let piece = junk[rng.below(junk.len())];
                    bytes.splice(at..at, piece.iter().copied());
                }
            }
        }
        assert_sane(&bytes);
    }
}

// ------------------------------------------------------------------------------------------
// Checking files and folders

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "neuromorpho-swc-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A tree: 4 files to check, and what must be skipped.
fn make_tree() -> TempDir {
    let t = TempDir::new();
    let good = read(&fixtures().join("swc/SM090312A1-5-IDC.CNG.swc"));
    let root = &t.0;
    write(&root.join("b.swc"), &good);
    write(&root.join("A.SWC"), &good);
    write(&root.join("notes.txt"), b"not an SWC file");
    write(&root.join("a.swc.part"), b"partial");
    write(&root.join(".hidden.swc"), &good);
    write(&root.join(".c.swc.part"), b"partial");
    write(&root.join(".git/x.swc"), &good);
    write(&root.join("sub/c.swc"), &good);
    write(
        &root.join("sub/deep/d.swc"),
        b"1 1 0 0 0 5 -1\n2 3 abc 0 0 1 1\n",
    );
    std::os::unix::fs::symlink(root.join("nowhere.swc"), root.join("sub/broken-link.swc")).unwrap();
    std::os::unix::fs::symlink(root.join("sub"), root.join("zz-link-to-sub")).unwrap();
    t
}

#[test]
fn check_a_folder_tree() {
    let t = make_tree();
    let mut seen = Vec::new();
    let summary = check_paths([&t.0], &CheckOptions::new().threads(3), |r| {
        seen.push(r);
        ControlFlow::Continue(())
    })
    .unwrap();
    let rel: Vec<String> = seen
        .iter()
        .map(|r| {
            r.path
                .strip_prefix(&t.0)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    // Sorted by name, depth first; hidden, .part, .txt and the folder link skipped.
    assert_eq!(
        rel,
        [
            "A.SWC",
            "b.swc",
            "sub/broken-link.swc",
            "sub/c.swc",
            "sub/deep/d.swc"
        ]
    );
    assert_eq!(
        (summary.files, summary.usable, summary.with_errors),
        (5, 3, 2)
    );
    assert!(!summary.stopped);
    let codes: BTreeMap<&str, Vec<IssueCode>> = rel
        .iter()
        .zip(&seen)
        .map(|(p, r)| {
            (
                p.as_str(),
                r.report
                    .issues
                    .iter()
                    .map(|i| i.code)
                    .filter(|c| c.severity() == Severity::Error)
                    .collect(),
            )
        })
        .collect();
    assert_eq!(codes["sub/broken-link.swc"], [IssueCode::Io]);
    assert_eq!(codes["sub/deep/d.swc"], [IssueCode::NotANumber]);
    let good = read(&fixtures().join("swc/SM090312A1-5-IDC.CNG.swc"));
    assert_eq!(seen[0].report.points, Some(data_lines(&good).len()));
    assert_eq!(seen[0].report, seen[1].report);

    // Named files are checked whatever their name; a missing one is a report too.
    let mut names = Vec::new();
    let summary = check_paths(
        [
            t.0.join("notes.txt"),
            t.0.join("missing.swc"),
            t.0.join("sub"),
        ],
        &CheckOptions::new().threads(1),
        |r| {
            names.push((
                r.path.file_name().unwrap().to_string_lossy().into_owned(),
                r.report.errors,
            ));
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(summary.files, 5);
    assert_eq!(names[0], ("notes.txt".to_string(), 1));
    assert_eq!(names[1], ("missing.swc".to_string(), 1));
}

#[test]
fn check_stops_early_and_many_files_stream() {
    let t = TempDir::new();
    let good = read(&fixtures().join("swc/OG061108A1-3-IDD.CNG.swc"));
    for i in 0..300 {
        write(&t.0.join(format!("f{i:03}.swc")), &good);
    }
    let mut n = 0;
    let summary = check_paths([&t.0], &CheckOptions::new().threads(2), |_| {
        n += 1;
        if n == 7 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!((n, summary.files), (7, 7));
    assert!(summary.stopped);

    let mut last = None;
    let summary = check_paths([&t.0], &CheckOptions::new().threads(4), |r| {
        // In order of the walk, whatever thread finished first.
        let this = r.path.clone();
        assert!(last.as_ref().is_none_or(|l: &PathBuf| *l < this));
        last = Some(this);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(
        (summary.files, summary.usable, summary.warnings),
        (300, 300, 300)
    );
    assert!(check_paths([&t.0], &CheckOptions::new().threads(0), |_| {
        ControlFlow::Continue(())
    })
    .is_err());
}

#[test]
fn readers_sizes_and_json_lines() {
    let good = read(&fixtures().join("swc/OG061108A1-3-IDD.CNG.swc"));
    let r = check_reader(good.as_slice(), 1 << 20);
    assert_eq!(r.points, Some(data_lines(&good).len()));
    let small = check_reader(good.as_slice(), 100);
    assert_eq!(small.issues[0].code, IssueCode::TooLarge);
    let t = TempDir::new();
    let path = t.0.join("x.swc");
    write(&path, &good);
    let r = check_file(&path, &CheckOptions::new().max_file_size(100));
    assert_eq!(
        (r.report.issues[0].code, r.report.errors),
        (IssueCode::TooLarge, 1)
    );

    let report = check_file(&path, &CheckOptions::new());
    let json: Value = serde_json::from_str(&report.to_json_line()).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "file",
            "points",
            "roots",
            "stems",
            "bifurcations",
            "tips",
            "total_length",
            "issues"
        ]
    );
    assert_eq!(json["file"], path.to_string_lossy().as_ref());
    let rec = &neurom()["files"]["OG061108A1-3-IDD.CNG.swc"];
    assert_eq!(json["stems"], rec["number_of_neurites"]);
    assert_eq!(json["tips"], rec["number_of_leaves"]);
    let issue = &json["issues"][0];
    let keys: Vec<&String> = issue.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["code", "severity", "line", "message"]);
    assert_eq!(issue["code"], "multi-point-soma");
    assert_eq!(issue["severity"], "warning");
    let first_soma = data_lines(&good)
        .into_iter()
        .find(|(_, _, t)| t == "1")
        .unwrap()
        .0;
    assert_eq!(issue["line"], first_soma);

    let write_path = t.0.join("bad.swc");
    write(&write_path, b"<html>");
    let json = check_file(&write_path, &CheckOptions::new()).to_json();
    assert_eq!(json["points"], Value::Null);
    assert_eq!(json["total_length"], Value::Null);
    assert_eq!(json["issues"][0]["code"], "html");
    assert_eq!(json["issues"][0]["severity"], "error");
    assert!(!report.to_json_line().contains('\n'));
}
