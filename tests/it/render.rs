//! The SVG renderer (`Morphology::render`): well-formed XML whose view box holds every point,
//! one colour per type present, a scale bar of the right length, a dendrogram with NeuroM's
//! number of tips, the real fixtures and the broken ones in every view without a panic, and
//! files that stay small.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use neuromorpho::swc::{Morphology, RenderOptions, View};
use serde_json::Value;
use support::svg::{parse_xml, path_points, Element};
use support::*;

fn swc_files(folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "swc"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{folder}: {files:?}");
    files
}

/// The view box's width and height (it starts at 0 0).
fn view_box(svg: &Element) -> (f64, f64) {
    let v: Vec<f64> = svg
        .attr("viewBox")
        .split(' ')
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(v.len(), 4, "{:?}", svg.attrs);
    assert_eq!((v[0], v[1]), (0.0, 0.0));
    assert_eq!(svg.attr("width").parse::<f64>().unwrap(), v[2]);
    assert_eq!(svg.attr("height").parse::<f64>().unwrap(), v[3]);
    (v[2], v[3])
}

fn num(e: &Element, name: &str) -> f64 {
    e.attr(name)
        .parse()
        .unwrap_or_else(|_| panic!("<{}> {name}={:?}", e.name, e.attr(name)))
}

/// Every point the picture draws (path vertices, circle boxes), with its translation.
fn drawn_points(root: &Element) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (e, (dx, dy)) in root.walk() {
        match e.name.as_str() {
            "path" => {
                for sub in path_points(e.attr("d")) {
                    out.extend(sub.into_iter().map(|(x, y)| (x + dx, y + dy)));
                }
            }
            "circle" => {
                let (cx, cy, r) = (num(e, "cx"), num(e, "cy"), num(e, "r"));
                out.push((cx - r + dx, cy - r + dy));
                out.push((cx + r + dx, cy + r + dy));
            }
            _ => {}
        }
    }
    out
}

/// Type -> colour of the `<g class="type type-K">` groups (each type once).
fn type_groups(root: &Element) -> BTreeMap<i32, String> {
    let mut groups = BTreeMap::new();
    for (e, _) in root.walk() {
        if e.name == "g" && e.has_class("type") {
            let kind: i32 = e
                .attr("class")
                .split_whitespace()
                .find_map(|c| c.strip_prefix("type-"))
                .unwrap()
                .parse()
                .unwrap();
            let colour = e.attr("stroke").to_string();
            assert!(
                groups.insert(kind, colour).is_none(),
                "type {kind} has two groups"
            );
        }
    }
    groups
}

/// The types of the neurite segments a file has (a point with a parent, not a soma point).
fn segment_types(m: &Morphology) -> BTreeSet<i32> {
    (0..m.points().len())
        .filter(|&i| m.parent(i).is_some() && !m.points()[i].is_soma())
        .map(|i| m.points()[i].kind)
        .collect()
}

fn check_picture(svg: &str, what: &str) -> Element {
    let root = parse_xml(svg).unwrap_or_else(|e| panic!("{what}: not well-formed: {e}"));
    assert_eq!(root.name, "svg", "{what}");
    assert_eq!(root.attr("xmlns"), "http://www.w3.org/2000/svg", "{what}");
    let (w, h) = view_box(&root);
    for (x, y) in drawn_points(&root) {
        assert!(
            (-0.05..=w + 0.05).contains(&x) && (-0.05..=h + 0.05).contains(&y),
            "{what}: ({x}, {y}) outside the view box {w} x {h}"
        );
    }
    root
}

#[test]
fn every_real_fixture_is_well_formed_in_every_view_with_one_colour_per_type() {
    for path in swc_files("swc") {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let m = Morphology::from_path(&path).unwrap();
        let types = segment_types(&m);
        for view in View::ALL {
            let what = format!("{name} ({view})");
            let r = m.render(&RenderOptions::new().view(view).title(name.as_str()));
            let root = check_picture(&r.svg, &what);
            assert_eq!(
                (
                    root.attr("width").parse::<f64>().unwrap(),
                    root.attr("height").parse::<f64>().unwrap()
                ),
                (r.width, r.height),
                "{what}"
            );
            let groups = type_groups(&root);
            assert_eq!(
                groups.keys().copied().collect::<BTreeSet<_>>(),
                types,
                "{what}: the types drawn"
            );
            let colours: BTreeSet<&String> = groups.values().collect();
            assert_eq!(colours.len(), groups.len(), "{what}: {groups:?}");
            // NeuroM's colours for the standard types.
            for (kind, colour) in [(2, "#0000ff"), (3, "#ff0000"), (4, "#800080")] {
                if let Some(c) = groups.get(&kind) {
                    assert_eq!(c, colour, "{what}: type {kind}");
                }
            }
            // The legend names each type drawn, and the soma when there is one.
            let legend: Vec<String> = root
                .walk()
                .into_iter()
                .filter(|(e, _)| e.has_class("legend-item"))
                .map(|(e, _)| e.all_text())
                .collect();
            assert_eq!(
                legend.len(),
                types.len() + usize::from(m.points().iter().any(|p| p.is_soma())),
                "{what}: {legend:?}"
            );
            // The title is there, and a file without errors has no note.
            let texts: Vec<String> = root
                .walk()
                .into_iter()
                .filter(|(e, _)| e.name == "text")
                .map(|(e, _)| e.all_text())
                .collect();
            assert!(texts.contains(&name), "{what}: {texts:?}");
            assert_eq!(
                texts.iter().any(|t| t.contains("error")),
                !r.validation.is_usable(),
                "{what}: {texts:?}"
            );
        }
        // The soma is drawn in the plane views: NeuroMorpho's 3-point soma as one circle.
        let root = parse_xml(&m.to_svg(&RenderOptions::new())).unwrap();
        let somas: Vec<&Element> = root
            .walk()
            .into_iter()
            .map(|(e, _)| e)
            .filter(|e| e.has_class("soma"))
            .collect();
        assert_eq!(
            somas.len(),
            usize::from(m.points().iter().any(|p| p.is_soma())),
            "{name}"
        );
    }
}

/// A straight axon 1000 µm long along x and a dendrite 400 µm along y, from a soma of radius 5.
const RULER: &[u8] = b"1 1 0 0 0 5 -1\n2 2 100 0 0 1 1\n3 2 500 0 0 1 2\n4 2 1000 0 0 1 3\n\
5 3 0 100 0 1 1\n6 3 0 400 0 1 5\n";

/// The scale bar's length in pixels and its label's µm.
fn scale_bar(root: &Element) -> (f64, f64) {
    let bar = root
        .walk()
        .into_iter()
        .map(|(e, _)| e)
        .find(|e| e.has_class("scale-bar"))
        .expect("a scale bar");
    let path = bar.children.iter().find(|c| c.name == "path").unwrap();
    let pts = &path_points(path.attr("d"))[0];
    let ((x0, y0), (x1, y1)) = (pts[0], pts[pts.len() - 1]);
    let px = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt();
    let label = bar.all_text();
    let um: f64 = label
        .strip_suffix(" µm")
        .unwrap_or_else(|| panic!("label {label:?}"))
        .parse()
        .unwrap();
    (px, um)
}

#[test]
fn the_scale_bar_measures_what_the_drawing_shows() {
    let m = Morphology::from_bytes(RULER).unwrap();
    for size in [300.0, 800.0, 1234.0] {
        let root = check_picture(&m.to_svg(&RenderOptions::new().size(size)), "ruler");
        // The axon's path: from the soma's centre to x = 1000 µm.
        let axon = root
            .walk()
            .into_iter()
            .map(|(e, _)| e)
            .find(|e| e.has_class("type-2"))
            .unwrap();
        let pts: Vec<(f64, f64)> = axon
            .children
            .iter()
            .flat_map(|p| path_points(p.attr("d")).concat())
            .collect();
        let xs = pts.iter().map(|p| p.0);
        let span = xs.clone().fold(f64::MIN, f64::max) - xs.fold(f64::MAX, f64::min);
        let px_per_um = span / 1000.0;
        // The drawing's longer side (x: from -5 to 1000 µm) is `size` pixels.
        assert!(
            (px_per_um * 1005.0 - size).abs() < 0.2,
            "{size}: {px_per_um}"
        );
        let (bar_px, bar_um) = scale_bar(&root);
        assert_eq!(
            bar_um, 200.0,
            "{size}: a fifth of the width, rounded down to 1-2-5"
        );
        assert!(
            (bar_px - bar_um * px_per_um).abs() < 0.15,
            "{size}: bar {bar_px} px for {bar_um} µm, drawing {px_per_um} px/µm"
        );
    }
    // A real file: the bar against the neurites' extent in x.
    let path = fixtures_dir().join("swc/04a_pyramidal4aACC.CNG.swc");
    let m = Morphology::from_path(&path).unwrap();
    let root = check_picture(&m.to_svg(&RenderOptions::new()), "04a");
    let neurites = root
        .walk()
        .into_iter()
        .map(|(e, _)| e)
        .find(|e| e.has_class("neurites"))
        .unwrap();
    let drawn: Vec<(f64, f64)> = drawn_points(neurites);
    let px_span = drawn.iter().map(|p| p.0).fold(f64::MIN, f64::max)
        - drawn.iter().map(|p| p.0).fold(f64::MAX, f64::min);
    let xs = (0..m.points().len())
        .filter(|&i| !m.points()[i].is_soma() || m.children(i).any(|c| !m.points()[c].is_soma()))
        .map(|i| m.points()[i].x);
    let um_span = xs.clone().fold(f64::MIN, f64::max) - xs.fold(f64::MAX, f64::min);
    let (bar_px, bar_um) = scale_bar(&root);
    let expected = bar_um * px_span / um_span;
    assert!(
        (bar_px - expected).abs() < 0.3,
        "bar {bar_px} px for {bar_um} µm; the neurites span {px_span} px for {um_span} µm"
    );
}

/// The tips of a dendrogram: vertical lines whose upper end continues nowhere (no fork line
/// there, no other vertical line starting there).
fn dendrogram_tips(root: &Element) -> usize {
    let neurites = root
        .walk()
        .into_iter()
        .map(|(e, _)| e)
        .find(|e| e.has_class("neurites"))
        .unwrap();
    let mut verticals = Vec::new();
    let mut horizontals = Vec::new();
    for (e, _) in neurites.walk() {
        if e.name != "path" {
            continue;
        }
        for sub in path_points(e.attr("d")) {
            for w in sub.windows(2) {
                let ((x0, y0), (x1, y1)) = (w[0], w[1]);
                if x0 == x1 {
                    verticals.push((x0, y0, y1));
                } else {
                    assert_eq!(
                        y0, y1,
                        "a dendrogram has only vertical and horizontal lines"
                    );
                    horizontals.push((x0.min(x1), x0.max(x1), y0));
                }
            }
        }
    }
    verticals
        .iter()
        .filter(|&&(x, _, top)| {
            let fork = horizontals
                .iter()
                .any(|&(a, b, y)| y == top && a <= x && x <= b);
            let goes_on = verticals
                .iter()
                .any(|&(x2, start, _)| x2 == x && start == top);
            !fork && !goes_on
        })
        .count()
}

#[test]
fn a_dendrogram_has_one_tip_per_leaf() {
    // Two neurites: a stem forking in two, one branch forking again (3 tips); an axon (1 tip).
    let m = Morphology::from_bytes(
        b"1 1 0 0 0 5 -1\n2 3 0 10 0 1 1\n3 3 0 20 0 1 2\n4 3 -5 30 0 1 3\n5 3 5 30 0 1 3\n\
          6 3 5 40 0 1 5\n7 3 9 35 0 1 5\n8 2 0 -10 0 1 1\n9 2 0 -30 0 1 8\n",
    )
    .unwrap();
    let root = check_picture(
        &m.to_svg(&RenderOptions::new().view(View::Dendrogram)),
        "tree",
    );
    assert_eq!(dendrogram_tips(&root), 4);
    // Real files: NeuroM's number of leaves, for each file NeuroM could load.
    let neurom: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join("neurom/neurom.json")).unwrap(),
    )
    .unwrap();
    let mut compared = 0;
    for (name, expected) in neurom["files"].as_object().unwrap() {
        let Some(leaves) = expected["number_of_leaves"].as_u64() else {
            continue;
        };
        let m = Morphology::from_path(fixtures_dir().join("swc").join(name)).unwrap();
        let svg = m.to_svg(&RenderOptions::new().view(View::Dendrogram).size(4000.0));
        let root = check_picture(&svg, name);
        assert_eq!(dendrogram_tips(&root) as u64, leaves, "{name}");
        compared += 1;
    }
    assert!(compared >= 15, "{compared}");
}

#[test]
fn broken_files_never_panic_and_say_what_is_wrong() {
    for path in swc_files("swc-broken") {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let m = match Morphology::from_path(&path) {
            Ok(m) => m,
            Err(e) => {
                // What the CLI prints: one line naming the file and the line at fault.
                let line = e.to_string();
                assert!(!line.contains('\n') && line.contains(&name), "{line}");
                continue;
            }
        };
        for view in View::ALL {
            for options in [RenderOptions::new(), RenderOptions::thumbnail()] {
                let r = m.render(&options.clone().view(view));
                let what = format!("{name} ({view})");
                let root = check_picture(&r.svg, &what);
                let text = root.all_text();
                if !r.validation.is_usable() {
                    assert!(text.contains("error"), "{what}: {text}");
                }
                assert!(!r.svg.contains("NaN") && !r.svg.contains("inf"), "{what}");
            }
        }
    }
}

#[test]
fn a_file_with_errors_draws_what_can_be_read() {
    // Point 4's parent is missing, point 6 is NaN: the rest is drawn.
    let m = Morphology::from_bytes(
        b"1 1 0 0 0 5 -1\n2 3 0 100 0 1 1\n3 3 50 150 0 1 2\n4 2 0 -100 0 1 77\n\
          5 2 0 -200 0 1 4\n6 3 nan 200 0 1 3\n",
    )
    .unwrap();
    let r = m.render(&RenderOptions::new());
    let root = check_picture(&r.svg, "errors");
    let groups = type_groups(&root);
    assert_eq!(groups.keys().copied().collect::<Vec<_>>(), [2, 3]);
    let notes: Vec<String> = root
        .walk()
        .into_iter()
        .filter(|(e, _)| e.has_class("note"))
        .map(|(e, _)| e.all_text())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("2 errors: non-finite (line 6), missing-parent (line 4)")
            || notes[0].starts_with("2 errors: missing-parent (line 4), non-finite (line 6)"),
        "{notes:?}"
    );
    // Only a file that cannot be parsed at all has no picture.
    assert!(Morphology::from_bytes(b"<html>").is_err());
}

#[test]
fn titles_are_text_not_markup() {
    let m = Morphology::from_bytes(RULER).unwrap();
    let hostile = "<script>alert(1)</script>&amp;\"'\u{1b}[2K";
    let svg = m.to_svg(&RenderOptions::new().title(hostile));
    let root = check_picture(&svg, "hostile title");
    assert!(!svg.contains("<script"));
    let title = root
        .walk()
        .into_iter()
        .map(|(e, _)| e)
        .find(|e| e.has_class("title"))
        .unwrap();
    // The escape character is replaced (XML refuses it); the rest is the title as written.
    assert_eq!(title.text, hostile.replace('\u{1b}', "\u{FFFD}"));
}

/// A synthetic neuron of `n` points: a soma and 20 wandering dendrites that fork now and then.
fn big_neuron(n: usize) -> Vec<u8> {
    let mut s = String::from("1 1 0 0 0 8 -1\n");
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut tips: Vec<(usize, f64, f64, f64, f64)> = (0..20)
        .map(|k| {
            let a = k as f64 * 0.314;
            (1, 8.0 * a.cos(), 8.0 * a.sin(), 0.0, a)
        })
        .collect();
    for id in 2..=n {
        let t = (rand() * tips.len() as f64) as usize % tips.len();
        let (parent, x, y, z, a) = tips[t];
        let a = a + (rand() - 0.5) * 0.3;
        let (x, y, z) = (x + 2.0 * a.cos(), y + 2.0 * a.sin(), z + rand() - 0.5);
        let kind = if t.is_multiple_of(4) { 2 } else { 3 };
        s.push_str(&format!("{id} {kind} {x:.3} {y:.3} {z:.3} 0.5 {parent}\n"));
        tips[t] = (id, x, y, z, a);
        if rand() < 0.002 {
            tips.push((id, x, y, z, a + 0.5));
        }
    }
    s.into_bytes()
}

#[test]
fn a_100000_point_neuron_gives_a_small_file() {
    let m = Morphology::from_bytes(&big_neuron(100_000)).unwrap();
    assert_eq!(m.points().len(), 100_000);
    for view in [View::Xy, View::Sheet, View::Dendrogram] {
        let svg = m.to_svg(&RenderOptions::new().view(view));
        let root = check_picture(&svg, "big");
        // Few paths per type (width classes), and far fewer bytes than the file's 100,000
        // segments would take one element each.
        let paths = root
            .walk()
            .into_iter()
            .filter(|(e, _)| e.name == "path")
            .count();
        assert!(paths <= 40, "{view}: {paths} paths");
        assert!(svg.len() < 1_500_000, "{view}: {} bytes", svg.len());
    }
    // One width for all: exactly one path per type.
    let root = parse_xml(&m.to_svg(&RenderOptions::new().fixed_width(1.0))).unwrap();
    for (e, _) in root.walk() {
        if e.has_class("type") {
            assert_eq!(e.children.len(), 1, "{:?}", e.attrs);
        }
    }
}

#[test]
fn the_sheet_shows_three_panels_at_one_scale() {
    let m = Morphology::from_bytes(
        b"1 1 0 0 0 5 -1\n2 3 300 0 0 1 1\n3 2 0 200 0 1 1\n4 4 0 0 100 1 1\n",
    )
    .unwrap();
    let root = check_picture(&m.to_svg(&RenderOptions::new().view(View::Sheet)), "sheet");
    let labels: Vec<String> = root
        .walk()
        .into_iter()
        .filter(|(e, _)| e.has_class("panel"))
        .map(|(e, _)| e.all_text())
        .collect();
    assert_eq!(labels, ["xy", "zy", "xz"]);
    // The apical dendrite (along z, 100 µm) is a point in xy and a 100 µm line in the
    // others, at the scale of the basal dendrite (300 µm along x).
    let lengths = |kind: &str| -> Vec<f64> {
        let g = root
            .walk()
            .into_iter()
            .map(|(e, _)| e)
            .find(|e| e.has_class(kind))
            .unwrap();
        path_points(g.children[0].attr("d"))
            .iter()
            .map(|s| {
                let (a, b) = (s[0], s[s.len() - 1]);
                ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
            })
            .collect()
    };
    let basal = lengths("type-3");
    let apical = lengths("type-4");
    assert_eq!(basal.len(), 3);
    let scale = basal[0] / 300.0;
    assert!((apical[0]).abs() < 0.1, "{apical:?}");
    assert!(
        (apical[1] - 100.0 * scale).abs() < 0.15,
        "{apical:?} {scale}"
    );
    assert!(
        (apical[2] - 100.0 * scale).abs() < 0.15,
        "{apical:?} {scale}"
    );
    assert!((basal[2] - 300.0 * scale).abs() < 0.15, "{basal:?}");
}

#[test]
fn a_thumbnail_is_small() {
    let path = fixtures_dir().join("swc/MTC260800D-IDA.CNG.swc");
    let m = Morphology::from_path(&path).unwrap();
    let r = m.render(&RenderOptions::thumbnail());
    check_picture(&r.svg, "thumbnail");
    assert!(
        r.width <= 170.0 && r.height <= 190.0,
        "{} x {}",
        r.width,
        r.height
    );
    let full = m.to_svg(&RenderOptions::new());
    assert!(
        r.svg.len() * 3 < full.len(),
        "{} vs {}",
        r.svg.len(),
        full.len()
    );
}

#[test]
fn render_paths_draws_a_folder_in_order_and_names_what_it_cannot_read() {
    let t = TempDir::new();
    let nested = t.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    let good = ["04a_pyramidal4aACC.CNG.swc", "C121005C.CNG.swc"];
    std::fs::copy(
        fixtures_dir().join("swc").join(good[0]),
        t.path().join("a").join(good[0]),
    )
    .unwrap();
    std::fs::copy(
        fixtures_dir().join("swc").join(good[1]),
        nested.join(good[1]),
    )
    .unwrap();
    std::fs::write(
        t.path().join("a/broken.swc"),
        b"1 1 0 0 0 5 -1\n2 3 x 0 0 1 1\n",
    )
    .unwrap();
    std::fs::write(t.path().join("a/.hidden.swc"), b"1 1 0 0 0 5 -1\n").unwrap();
    std::fs::write(t.path().join("a/notes.txt"), b"not a neuron").unwrap();
    let missing = t.path().join("missing.swc");
    let mut seen = Vec::new();
    let summary = neuromorpho::swc::render_paths(
        [t.path().to_path_buf(), missing.clone()],
        &RenderOptions::new(),
        &neuromorpho::swc::CheckOptions::new().threads(2),
        |file| {
            seen.push((
                file.path.clone(),
                file.result
                    .as_ref()
                    .map(|r| r.svg.clone())
                    .map_err(|e| e.to_string()),
            ));
            std::ops::ControlFlow::Continue(())
        },
    )
    .unwrap();
    let names: Vec<String> = seen
        .iter()
        .map(|(p, _)| p.strip_prefix(t.path()).unwrap_or(p).display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            format!("a/{}", good[0]),
            format!("a/b/{}", good[1]),
            "a/broken.swc".to_string(),
            "missing.swc".to_string()
        ]
    );
    assert_eq!(
        (summary.files, summary.drawn, summary.unreadable),
        (4, 2, 2)
    );
    for (path, result) in &seen[..2] {
        let svg = result.as_ref().unwrap();
        let root = check_picture(svg, &path.display().to_string());
        let title = root
            .walk()
            .into_iter()
            .map(|(e, _)| e)
            .find(|e| e.has_class("title"))
            .unwrap();
        assert_eq!(title.text, path.file_name().unwrap().to_string_lossy());
    }
    let broken = seen[2].1.as_ref().unwrap_err();
    assert!(
        broken.contains("broken.swc") && broken.contains("line 2") && !broken.contains('\n'),
        "{broken}"
    );
    let gone = seen[3].1.as_ref().unwrap_err();
    assert!(
        gone.contains("missing.swc") && !gone.contains('\n'),
        "{gone}"
    );
}
