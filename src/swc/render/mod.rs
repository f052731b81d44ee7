//! Drawing a [`Morphology`] as SVG text (see [`Morphology::render`]): the frame (title,
//! notes, scale bar, legend) here, the projections in `plane`, the dendrogram in
//! `dendrogram`, the path text in `canvas`, the colours in `style`.

mod canvas;
mod dendrogram;
mod plane;
mod style;

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::util::text::escape_markup;
use canvas::{num, Strokes};
use plane::{finite_or, Axes, Extent, Frame, Width};

use super::check::{for_each_file, CheckOptions};
use super::issue::Severity;
use super::parse::{Morphology, SwcError};
use super::validate::Validation;

/// What is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum View {
    /// The projection on the xy plane (x to the right, y up): NeuroM's default.
    #[default]
    Xy,
    /// x to the right, z up.
    Xz,
    /// y to the right, z up.
    Yz,
    /// Three projections at one scale: xy, zy beside it (sharing y), xz below it (sharing x).
    Sheet,
    /// Path distance (µm, upwards from each neurite's first point) against the branching:
    /// tips one column apart, each fork centred over its children.
    Dendrogram,
}

impl View {
    /// Every view.
    pub const ALL: [View; 5] = [View::Xy, View::Xz, View::Yz, View::Sheet, View::Dendrogram];

    /// `xy`, `xz`, `yz`, `sheet` or `dendrogram`.
    pub fn as_str(self) -> &'static str {
        match self {
            View::Xy => "xy",
            View::Xz => "xz",
            View::Yz => "yz",
            View::Sheet => "sheet",
            View::Dendrogram => "dendrogram",
        }
    }
}

impl std::fmt::Display for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for View {
    type Err = crate::error::Error;

    /// The names of [`View::as_str`].
    fn from_str(s: &str) -> Result<View, crate::error::Error> {
        View::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
            .ok_or_else(|| {
                crate::error::Error::setting(
                    "view",
                    format!(
                        "unknown view '{}' (expected xy, xz, yz, sheet or dendrogram)",
                        crate::util::text::escape(s)
                    ),
                )
            })
    }
}

/// How to draw: [`RenderOptions::new`] (or `Default`) and the chainable setters.
///
/// ```
/// use neuromorpho::swc::{RenderOptions, View};
/// let options = RenderOptions::new().view(View::Xz).fixed_width(1.0).size(400.0).title("cell 7");
/// let thumbnail = RenderOptions::thumbnail();
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    view: View,
    line_width: Option<f64>,
    size: f64,
    title: Option<String>,
    legend: bool,
    scale_bar: bool,
    notes: bool,
    compact: bool,
}

impl Default for RenderOptions {
    fn default() -> RenderOptions {
        RenderOptions {
            view: View::Xy,
            line_width: None,
            size: 800.0,
            title: None,
            legend: true,
            scale_bar: true,
            notes: true,
            compact: false,
        }
    }
}

impl RenderOptions {
    /// The defaults: the xy view, true widths, 800 pixels, a legend, a scale bar, notes of
    /// errors, no title.
    pub fn new() -> RenderOptions {
        RenderOptions::default()
    }

    /// A small picture for a table of neurons: 160 pixels, small margins and text, a scale
    /// bar and a short note of errors, no legend and no title.
    pub fn thumbnail() -> RenderOptions {
        RenderOptions {
            size: 160.0,
            legend: false,
            compact: true,
            ..RenderOptions::default()
        }
    }

    /// What is drawn (default [`View::Xy`]).
    #[must_use]
    pub fn view(mut self, view: View) -> RenderOptions {
        self.view = view;
        self
    }

    /// Draw every segment `pixels` wide (0.1 to 50) instead of at its true width. The
    /// dendrogram always uses one width (default 1.2 pixels, NeuroM's).
    #[must_use]
    pub fn fixed_width(mut self, pixels: f64) -> RenderOptions {
        self.line_width = Some(finite_or(pixels, 1.0).clamp(0.1, 50.0));
        self
    }

    /// Draw each segment at its true width (the default).
    #[must_use]
    pub fn true_width(mut self) -> RenderOptions {
        self.line_width = None;
        self
    }

    /// The drawing's longer side, in pixels (16 to 20,000; default 800). Title, notes,
    /// legend and scale bar are added around it.
    #[must_use]
    pub fn size(mut self, pixels: f64) -> RenderOptions {
        self.size = finite_or(pixels, 800.0).clamp(16.0, 20_000.0);
        self
    }

    /// A title above the drawing (a file's name, say); shown as text, never as markup.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> RenderOptions {
        self.title = Some(title.into());
        self
    }

    /// Name each type drawn, with its colour, below the drawing (default on).
    #[must_use]
    pub fn legend(mut self, on: bool) -> RenderOptions {
        self.legend = on;
        self
    }

    /// A scale bar in µm (default on).
    #[must_use]
    pub fn scale_bar(mut self, on: bool) -> RenderOptions {
        self.scale_bar = on;
        self
    }

    /// Say on the picture that the file has errors, and which (default on).
    #[must_use]
    pub fn notes(mut self, on: bool) -> RenderOptions {
        self.notes = on;
        self
    }
}

/// A drawing: the SVG text and what the file's check found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Rendering {
    /// A complete SVG document (UTF-8, ending with a newline).
    pub svg: String,
    /// Its width, in pixels.
    pub width: f64,
    /// Its height, in pixels.
    pub height: f64,
    /// The file's issues ([`Morphology::validate`]); with errors, the drawing shows what
    /// could be read.
    pub validation: Validation,
}

impl Morphology {
    /// Draw the morphology as SVG: a projection on a plane (xy by default, xz, yz), the three
    /// projections on one sheet, or a dendrogram ([`View`]). Never fails: what cannot be
    /// drawn is left out, and said on the picture.
    ///
    /// Each segment is drawn at its true width (the mean of its two radii, doubled, at the
    /// picture's scale; never thinner than half a pixel) or at one width for all
    /// ([`RenderOptions::fixed_width`]), in NeuroM's colour of its type (soma black, axon
    /// blue, basal dendrite red, apical dendrite purple, undefined green, type 5 orange;
    /// every other type a colour of its own, named in the legend). The soma is drawn as its
    /// shape: a circle (one point, or NeuroMorpho's three-point cylinder), its outline (a
    /// contour), or its cylinders. A scale bar gives µm.
    ///
    /// Files stay small: one `<g>` per type holding a path per width class (a few per type),
    /// coordinates in tenths of a pixel, relative moves along a branch, and the points of a
    /// branch that move the pen less than half a pixel left out.
    ///
    /// A file with errors (a missing parent, a cycle, NaN coordinates) is drawn as far as it
    /// can be read: the segments whose two ends are known and finite. The picture says how
    /// many errors there are and which ([`RenderOptions::notes`]); [`Rendering::validation`]
    /// has them for the caller to report.
    ///
    /// ```
    /// use neuromorpho::swc::{Morphology, RenderOptions, View};
    ///
    /// let m = Morphology::from_bytes(b"1 1 0 0 0 5 -1\n2 3 0 50 0 1 1\n3 2 0 -80 0 0.5 1\n")?;
    /// let svg = m.to_svg(&RenderOptions::new().title("demo"));
    /// assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
    /// let sheet = m.render(&RenderOptions::new().view(View::Sheet).fixed_width(1.0));
    /// assert!(sheet.validation.is_usable());
    /// # Ok::<(), neuromorpho::swc::ParseError>(())
    /// ```
    pub fn render(&self, options: &RenderOptions) -> Rendering {
        render(self, options)
    }

    /// [`Morphology::render`]'s SVG text alone.
    pub fn to_svg(&self, options: &RenderOptions) -> String {
        render(self, options).svg
    }
}

/// A file drawn by [`render_paths`]: its drawing, or why it could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub struct RenderedFile {
    /// The file as given or found in a folder (`-` for standard input).
    pub path: PathBuf,
    /// The drawing; `Err` when the file cannot be read or is not SWC (a one-line message
    /// naming the file and, for a parse error, the line).
    pub result: Result<Rendering, SwcError>,
}

/// The totals of a [`render_paths`] run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenderSummary {
    /// Files handed to the callback.
    pub files: usize,
    /// Of which drawn.
    pub drawn: usize,
    /// Of which drawn from a file with errors (as far as it can be read).
    pub with_errors: usize,
    /// Of which not drawn: unreadable, or not SWC.
    pub unreadable: usize,
    /// The callback asked to stop before every file was drawn.
    pub stopped: bool,
}

/// Draw files and folders as [`check_paths`](crate::swc::check_paths) checks them: every
/// `.swc` file under each folder (hidden entries and links to folders skipped), each file
/// named, `-` for standard input; read and drawn on a local pool of
/// [`CheckOptions::threads`] threads (files larger than [`CheckOptions::max_file_size`] are
/// not read), each [`RenderedFile`] handed to `on_file` on the calling thread in the order of
/// the walk. Without a [`RenderOptions::title`], each picture is titled with its file's name.
/// The callback returns [`ControlFlow::Break`] to stop.
///
/// Fails only if the thread pool cannot be started (or `threads` is 0).
///
/// ```no_run
/// use std::ops::ControlFlow;
/// use neuromorpho::swc::{render_paths, CheckOptions, RenderOptions};
///
/// render_paths(["neurons/downloads"], &RenderOptions::new(), &CheckOptions::new(), |file| {
///     match &file.result {
///         Ok(drawing) => std::fs::write(file.path.with_extension("svg"), &drawing.svg).unwrap(),
///         Err(e) => eprintln!("{e}"),
///     }
///     ControlFlow::Continue(())
/// })?;
/// # Ok::<(), neuromorpho::swc::SwcError>(())
/// ```
pub fn render_paths<I, P, F>(
    paths: I,
    render: &RenderOptions,
    options: &CheckOptions,
    mut on_file: F,
) -> Result<RenderSummary, SwcError>
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
    F: FnMut(RenderedFile) -> ControlFlow<()>,
{
    let (render, max) = (render.clone(), options.max_file_size);
    let mut summary = RenderSummary::default();
    summary.stopped = for_each_file(
        paths,
        options.threads,
        "render",
        move |path| RenderedFile {
            path: path.to_path_buf(),
            result: read_limited(path, max).map(|m| {
                let mut o = render.clone();
                if o.title.is_none() {
                    let name = path.file_name().unwrap_or(path.as_os_str());
                    o.title = Some(name.to_string_lossy().into_owned());
                }
                m.render(&o)
            }),
        },
        |path, why| RenderedFile {
            result: Err(SwcError::Io {
                path: Some(path.clone()),
                source: std::io::Error::other(why),
            }),
            path,
        },
        |file| {
            summary.files += 1;
            match &file.result {
                Ok(r) => {
                    summary.drawn += 1;
                    summary.with_errors += usize::from(!r.validation.is_usable());
                }
                Err(_) => summary.unreadable += 1,
            }
            on_file(file)
        },
    )?;
    Ok(summary)
}

/// Read a file (or standard input for `-`) of at most `max` bytes and parse it.
fn read_limited(path: &Path, max: u64) -> Result<Morphology, SwcError> {
    use std::io::Read;
    let io = |source: std::io::Error| SwcError::Io {
        path: Some(path.to_path_buf()),
        source,
    };
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(max.saturating_add(1))
            .read_to_end(&mut bytes)
    } else {
        let file = std::fs::File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.is_dir() {
            return Err(io(std::io::Error::other("is a folder")));
        }
        file.take(max.saturating_add(1)).read_to_end(&mut bytes)
    };
    read.map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(io(std::io::Error::other(format!(
            "larger than the maximum of {max} bytes"
        ))));
    }
    Morphology::from_bytes(&bytes).map_err(|error| SwcError::Parse {
        path: Some(path.to_path_buf()),
        error,
    })
}

/// Text sizes and spacing of a picture.
#[derive(Debug, Clone, Copy)]
struct Metrics {
    margin: f64,
    title: f64,
    text: f64,
    /// Line height of `text`.
    line: f64,
}

impl Metrics {
    fn of(o: &RenderOptions) -> Metrics {
        if o.compact {
            Metrics {
                margin: 3.0,
                title: 10.0,
                text: 8.0,
                line: 10.0,
            }
        } else {
            Metrics {
                margin: 12.0,
                title: 16.0,
                text: 11.0,
                line: 16.0,
            }
        }
    }

    /// About how wide `chars` characters of `font` pixels are.
    fn text_width(chars: usize, font: f64) -> f64 {
        chars as f64 * font * 0.6
    }
}

/// What the body of a picture drew, for the frame around it.
struct Body {
    width: f64,
    height: f64,
    /// Pixels per µm along the scale bar.
    scale: f64,
    /// The length the scale bar measures (µm) spans this much of the drawing.
    span_um: f64,
    /// The bar is vertical (the dendrogram's path distance).
    vertical: bool,
    /// SVG elements after the neurites (soma, panel labels).
    extra: String,
    soma_drawn: bool,
    /// Why nothing was drawn, if nothing was.
    nothing: Option<&'static str>,
}

fn render(m: &Morphology, o: &RenderOptions) -> Rendering {
    let validation = m.validate();
    let mt = Metrics::of(o);
    // A thumbnail shows less: a point within a pixel of the pen is left out.
    let mut strokes = Strokes::default();
    strokes.skip = if o.compact { 10 } else { 5 };
    // The body is drawn at (0, 0) in its own group, moved into place once its frame is known.
    let body = match o.view {
        View::Xy => plane_body(m, o, &[Axes::XY], &mut strokes),
        View::Xz => plane_body(m, o, &[Axes::XZ], &mut strokes),
        View::Yz => plane_body(m, o, &[Axes::YZ], &mut strokes),
        View::Sheet => plane_body(m, o, &[Axes::XY, Axes::ZY, Axes::XZ], &mut strokes),
        View::Dendrogram => dendrogram_body(m, o, &mut strokes),
    };

    let mut notes: Vec<String> = Vec::new();
    if o.notes && validation.errors > 0 {
        notes.push(error_note(&validation, o.compact));
    }
    if let Some(why) = body.nothing {
        notes.push(format!("nothing to draw: {why}"));
    }

    let kinds = strokes.kinds();
    let mut legend: Vec<(i32, String)> = Vec::new();
    if o.legend {
        if body.soma_drawn {
            legend.push((1, style::name(1)));
        }
        let mut neurite_kinds: Vec<i32> = kinds.iter().copied().filter(|&k| k != 1).collect();
        neurite_kinds.sort_by_key(|&k| style::order(k));
        legend.extend(neurite_kinds.into_iter().map(|k| (k, style::name(k))));
    }
    let bar = (o.scale_bar && body.nothing.is_none() && body.scale > 0.0).then(|| {
        let um = nice_length(body.span_um * 0.2);
        (um, um * body.scale)
    });

    // Width: the drawing, or the widest item of the footer.
    let bar_item = bar.map(|(um, px)| {
        let label = format!("{} µm", format_um(um));
        let w = if body.vertical {
            0.0
        } else {
            px + 6.0 + Metrics::text_width(label.chars().count(), mt.text)
        };
        (label, w)
    });
    let legend_items: Vec<(i32, String, f64)> = legend
        .into_iter()
        .map(|(k, name)| {
            let w = 18.0 + Metrics::text_width(name.chars().count(), mt.text);
            (k, name, w)
        })
        .collect();
    let widest = legend_items
        .iter()
        .map(|i| i.2)
        .chain(bar_item.iter().map(|b| b.1))
        .fold(0.0f64, f64::max);
    let left_gutter = match (&bar_item, body.vertical) {
        (Some((label, _)), true) => 8.0 + Metrics::text_width(label.chars().count(), mt.text),
        _ => 0.0,
    };
    // Title and notes may widen the picture up to its size, and are cut beyond.
    let texts = o
        .title
        .iter()
        .map(|t| Metrics::text_width(t.chars().count(), mt.title))
        .chain(
            notes
                .iter()
                .map(|n| Metrics::text_width(n.chars().count(), mt.text)),
        )
        .fold(0.0f64, f64::max)
        .min(o.size);
    let inner = (body.width + left_gutter)
        .max(widest)
        .max(texts)
        .max(if o.compact { 16.0 } else { 160.0 });
    let width = inner + 2.0 * mt.margin;
    let max_chars = |font: f64| ((inner / (font * 0.6)).floor() as usize).max(4);

    let mut svg = String::with_capacity(4096);
    let mut y = mt.margin;
    let mut header = String::new();
    if let Some(title) = &o.title {
        y += mt.title;
        let _ = write!(
            header,
            "<text class=\"title\" x=\"{}\" y=\"{}\" font-size=\"{}\" font-weight=\"bold\">{}</text>",
            num(mt.margin),
            num(y),
            num(mt.title),
            escape_markup(&cut(title, max_chars(mt.title)))
        );
        y += mt.title * 0.4;
    }
    for note in &notes {
        y += mt.line;
        let _ = write!(
            header,
            "<text class=\"note\" x=\"{}\" y=\"{}\" fill=\"#b00000\">{}</text>",
            num(mt.margin),
            num(y - mt.line + mt.text),
            escape_markup(&cut(note, max_chars(mt.text)))
        );
    }
    if !header.is_empty() {
        y += mt.margin * 0.5;
    }
    let body_top = y;
    let body_left = mt.margin + left_gutter;
    y += body.height;

    // The footer: the scale bar, then the legend, wrapped to the width.
    let mut footer = String::new();
    let mut fx = mt.margin;
    let mut row_y = y + mt.margin * 0.5 + mt.line * 0.5;
    let mut rows = 0usize;
    if let Some(((_, px), (label, w))) = bar.zip(bar_item.clone()) {
        if body.vertical {
            // Beside the dendrogram, from its bottom up.
            let bottom = body_top + body.height;
            let _ = write!(
                footer,
                "<g class=\"scale-bar\"><path stroke=\"#000\" stroke-width=\"2\" d=\"M{} {}v-{}\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text></g>",
                num(mt.margin + 1.0),
                num(bottom),
                num(px),
                num(mt.margin + 5.0),
                num(bottom - px + mt.text),
                escape_markup(&label)
            );
        } else {
            rows = 1;
            let _ = write!(
                footer,
                "<g class=\"scale-bar\"><path stroke=\"#000\" stroke-width=\"2\" d=\"M{} {}h{}\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text></g>",
                num(fx),
                num(row_y),
                num(px),
                num(fx + px + 6.0),
                num(row_y + mt.text * 0.35),
                escape_markup(&label)
            );
            fx += w + 14.0;
        }
    }
    if !legend_items.is_empty() {
        footer.push_str("<g class=\"legend\">");
        for (kind, name, w) in &legend_items {
            if rows == 0 {
                rows = 1;
            } else if fx + w > width - mt.margin && fx > mt.margin {
                fx = mt.margin;
                row_y += mt.line;
                rows += 1;
            }
            let _ = write!(
                footer,
                "<g class=\"legend-item\"><path stroke=\"{}\" stroke-width=\"3\" d=\"M{} {}h12\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text></g>",
                style::colour(*kind),
                num(fx),
                num(row_y),
                num(fx + 18.0),
                num(row_y + mt.text * 0.35),
                escape_markup(name)
            );
            fx += w + 14.0;
        }
        footer.push_str("</g>");
    }
    let height = y + rows as f64 * mt.line + mt.margin;
    // Whole tenths, rounded up: the view box holds everything, and says what it is.
    let (width, height) = (up_to_tenth(width), up_to_tenth(height));

    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"{}\">",
        num(mt.text),
        w = num(width),
        h = num(height),
    );
    let _ = write!(
        svg,
        "<title>{}</title><rect class=\"background\" width=\"{}\" height=\"{}\" fill=\"#fff\"/>",
        escape_markup(o.title.as_deref().unwrap_or("neuron morphology")),
        num(width),
        num(height)
    );
    svg.push_str(&header);
    let _ = write!(
        svg,
        "<g class=\"drawing\" transform=\"translate({} {})\">\
         <g class=\"neurites\" fill=\"none\" stroke-linecap=\"round\" stroke-linejoin=\"round\">",
        num(body_left),
        num(body_top)
    );
    strokes.write(&mut svg);
    svg.push_str("</g>");
    svg.push_str(&body.extra);
    svg.push_str("</g>");
    svg.push_str(&footer);
    svg.push_str("</svg>\n");
    Rendering {
        svg,
        width,
        height,
        validation,
    }
}

/// The projections of `panels` (one, or the three of the sheet) at one scale.
fn plane_body(m: &Morphology, o: &RenderOptions, panels: &[Axes], strokes: &mut Strokes) -> Body {
    let width = match o.line_width {
        Some(w) => Width::Fixed(w),
        None => Width::True,
    };
    let extents: Vec<(Axes, Extent)> = panels
        .iter()
        .filter_map(|&a| plane::extent(m, a).map(|e| (a, e)))
        .collect();
    let Some(&(_, first)) = extents.first() else {
        return Body {
            width: o.size.min(160.0),
            height: o.size.min(160.0) * 0.25,
            scale: 0.0,
            span_um: 0.0,
            vertical: false,
            extra: String::new(),
            soma_drawn: false,
            nothing: Some("no point with finite coordinates"),
        };
    };
    let sheet = panels.len() > 1;
    let gap = if sheet { 18.0 } else { 0.0 };
    // The sheet: xy | zy over xz; the z extent is xz's height and zy's width.
    let z = extents
        .iter()
        .find(|(a, _)| *a == Axes::XZ)
        .map_or(0.0, |(_, e)| e.height());
    let (w_um, h_um) = if sheet {
        (first.width() + z, first.height() + z)
    } else {
        (first.width(), first.height())
    };
    let scale = finite_or((o.size - gap).max(8.0) / w_um.max(h_um), 0.0);
    let mut extra = String::new();
    let mut soma_drawn = false;
    let (mut body_w, mut body_h) = (0.0f64, 0.0f64);
    for (axes, extent) in &extents {
        // On the sheet, each panel has its name above it.
        let label = if sheet { 14.0 } else { 0.0 };
        let (left, top) = match (*axes, sheet) {
            (Axes::ZY, true) => (first.width() * scale + gap, label),
            (Axes::XZ, true) => (0.0, label + first.height() * scale + gap),
            _ => (0.0, label),
        };
        let frame = Frame {
            left,
            top,
            extent: *extent,
            scale,
            axes: *axes,
        };
        let mut soma = String::new();
        plane::draw(m, &frame, width, strokes, &mut soma);
        soma_drawn |= !soma.is_empty();
        extra.push_str(&soma);
        let (w, h) = frame.size();
        body_w = body_w.max(left + w);
        body_h = body_h.max(top + h);
        if sheet {
            let _ = write!(
                extra,
                "<text class=\"panel\" x=\"{}\" y=\"{}\" fill=\"#666\">{}</text>",
                num(left),
                num(top - 4.0),
                axes.label()
            );
        }
    }
    Body {
        width: body_w,
        height: body_h,
        scale,
        span_um: first.width(),
        vertical: false,
        extra,
        soma_drawn,
        nothing: None,
    }
}

fn dendrogram_body(m: &Morphology, o: &RenderOptions, strokes: &mut Strokes) -> Body {
    let tree = dendrogram::layout(m);
    let columns = tree.columns.max(1.0);
    let height_um = finite_or(tree.height.max(1.0), 1.0);
    let scale = o.size / height_um;
    let column = (o.size / columns).min(12.0);
    let at = dendrogram::Place {
        left: 0.0,
        bottom: o.size,
        column,
        scale,
        width: canvas::tenths(o.line_width.unwrap_or(1.2)),
    };
    let soma = dendrogram::draw(m, &tree, &at, strokes);
    let mut extra = String::new();
    if let Some((lo, hi)) = soma {
        let _ = write!(
            extra,
            "<g class=\"soma\" stroke=\"{}\"><path stroke-width=\"3\" d=\"M{} {}H{}\"/></g>",
            style::colour(1),
            num(lo),
            num(o.size),
            num(hi)
        );
    }
    Body {
        width: columns * column,
        height: o.size,
        scale,
        span_um: height_um,
        vertical: true,
        extra,
        soma_drawn: soma.is_some(),
        nothing: (tree.tips == 0).then_some("no neurite"),
    }
}

/// `3 errors: missing-parent (line 4), cycle (line 9), ...; drawn as far as it can be read`.
fn error_note(v: &Validation, compact: bool) -> String {
    let plural = if v.errors == 1 { "" } else { "s" };
    if compact {
        return format!("{} error{plural}", v.errors);
    }
    let mut codes: Vec<String> = Vec::new();
    for issue in v.issues.iter().filter(|i| i.severity == Severity::Error) {
        let text = match issue.line {
            Some(line) => format!("{} (line {line})", issue.code),
            None => issue.code.to_string(),
        };
        if codes.len() == 3 {
            codes.push("…".into());
            break;
        }
        codes.push(text);
    }
    format!(
        "{} error{plural}: {}; drawn as far as it can be read",
        v.errors,
        codes.join(", ")
    )
}

/// The largest of 1, 2 or 5 times a power of ten that is at most `v` (µm).
fn nice_length(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(v.log10().floor());
    let step = [5.0, 2.0, 1.0]
        .into_iter()
        .find(|&s| s * power <= v * (1.0 + 1e-9))
        .unwrap_or(1.0);
    step * power
}

fn up_to_tenth(v: f64) -> f64 {
    (v * 10.0).ceil() / 10.0
}

/// `100`, `2.5`, `0.05`: no trailing zeros.
fn format_um(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// At most `max` characters, with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_bar_lengths() {
        assert_eq!(nice_length(230.0), 200.0);
        assert_eq!(nice_length(99.0), 50.0);
        assert_eq!(nice_length(100.0), 100.0);
        assert_eq!(nice_length(0.7), 0.5);
        assert_eq!(nice_length(f64::NAN), 1.0);
        assert_eq!(format_um(200.0), "200");
        assert_eq!(format_um(0.5), "0.5");
    }

    #[test]
    fn views_by_name() {
        for v in View::ALL {
            assert_eq!(v.as_str().parse::<View>().unwrap(), v);
        }
        let e = "top".parse::<View>().unwrap_err().to_string();
        assert!(e.contains("unknown view 'top'"), "{e}");
    }

    #[test]
    fn a_file_with_errors_says_so() {
        // Point 3's parent (9) is missing; point 4 has a NaN x.
        let m = Morphology::from_bytes(
            b"1 1 0 0 0 5 -1\n2 3 0 20 0 1 1\n3 3 5 5 0 1 9\n4 3 nan 30 0 1 2\n",
        )
        .unwrap();
        let r = m.render(&RenderOptions::new());
        assert_eq!(r.validation.errors, 2);
        assert!(r.svg.contains("2 errors: "), "{}", r.svg);
        assert!(r.svg.contains("missing-parent (line 3)"), "{}", r.svg);
        assert!(
            !r.svg.contains("NaN") && !r.svg.contains("inf"),
            "{}",
            r.svg
        );
        let quiet = m.to_svg(&RenderOptions::new().notes(false));
        assert!(!quiet.contains("error"), "{quiet}");
    }
}
