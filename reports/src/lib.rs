//! cobro's charts for the CFO report: DSO trend, receivables by state per month, CEI trend, segment mix, top
//! overdue customers and dispute resolution by department, each with a title, axes with units and a legend.
//!
//! Charts are drawn with plotters' SVG backend into a string: text is SVG `<text>` in a generic font family, so
//! no system font is read and the same data always gives the same bytes (the tests compare them). The figures
//! are plotted as `f64`: a chart is a picture of the exact numbers, which the report's tables print exactly.

use plotters::prelude::*;

/// A chart that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart `{title}`: {message}")]
pub struct ChartError {
    /// The chart.
    pub title: String,
    /// What went wrong.
    pub message: String,
}

/// One named series of values, one per x label (`None` where there is no value).
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// The values.
    pub values: Vec<Option<f64>>,
}

impl Series {
    /// A series.
    pub fn new(name: impl Into<String>, values: Vec<Option<f64>>) -> Self {
        Self { name: name.into(), values }
    }
}

/// Chart size in pixels.
pub const SIZE: (u32, u32) = (720, 360);

/// The palette, in series order (colour-blind friendly: Okabe-Ito).
const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
];

const FONT: &str = "sans-serif";

fn err(title: &str) -> impl Fn(&dyn std::fmt::Display) -> ChartError + '_ {
    move |e| ChartError { title: title.to_owned(), message: e.to_string() }
}

/// The value range of some values, from 0 (or the lowest negative), with room above for the legend.
fn y_range<'a>(values: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
    for v in values {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    (lo * 1.1, hi * 1.4)
}

/// A chart whose x axis is labelled positions (months): title, axes, the y unit, no vertical grid.
fn over_labels<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &str,
    x_labels: &[String],
    y_unit: &str,
    y: std::ops::Range<f64>,
    y_area: u32,
) -> Result<
    ChartContext<
        'a,
        SVGBackend<'b>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    ChartError,
> {
    let e = err(title);
    let n = x_labels.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(y_area)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), y)
        .map_err(|x| e(&x))?;
    let labels = x_labels.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(12))
        .x_label_formatter(&move |x| label_at(&labels, *x))
        .y_desc(y_unit)
        .light_line_style(TRANSPARENT)
        .y_label_formatter(&tick)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .draw()
        .map_err(|x| e(&x))?;
    Ok(chart)
}

/// Lines over labelled x positions (months, say), with an optional shaded band drawn first (ADD under DSO).
pub fn line_chart(
    title: &str,
    x_labels: &[String],
    y_unit: &str,
    lines: &[Series],
    band: Option<&Series>,
) -> Result<String, ChartError> {
    let e = err(title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let all = lines.iter().chain(band).flat_map(|s| s.values.iter().flatten());
        let (lo, hi) = y_range(all);
        let mut chart = over_labels(&root, title, x_labels, y_unit, lo..hi, 56)?;
        if let Some(b) = band {
            let pts: Vec<(f64, f64)> =
                b.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as f64, v))).collect();
            let style = COLOURS[6].mix(0.25);
            chart
                .draw_series(AreaSeries::new(pts, 0.0, style).border_style(COLOURS[6]))
                .map_err(|x| e(&x))?
                .label(&b.name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], style.filled()));
        }
        for (i, s) in lines.iter().enumerate() {
            let colour = COLOURS[i % 6];
            let pts: Vec<(f64, f64)> =
                s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as f64, v))).collect();
            chart
                .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
                .map_err(|x| e(&x))?
                .label(&s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))?;
    }
    Ok(svg)
}

/// Stacked columns: one column per x label, one stack part per series (receivables by state per month).
pub fn stacked_columns(title: &str, x_labels: &[String], y_unit: &str, parts: &[Series]) -> Result<String, ChartError> {
    let e = err(title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let n = x_labels.len().max(1);
        let totals: Vec<f64> = (0..n)
            .map(|i| parts.iter().map(|p| p.values.get(i).copied().flatten().unwrap_or(0.0).max(0.0)).sum())
            .collect();
        let (_, hi) = y_range(totals.iter());
        // The legend sits in the headroom above the tallest column: about 14 px plus 15 per entry of a plot about
        // 270 px high. Raise the top when the default headroom is too little for that many entries.
        let tallest = totals.iter().copied().fold(0.0_f64, f64::max);
        let legend_share = ((14.0 + 15.0 * parts.len() as f64) / 270.0).min(0.6);
        let hi = hi.max(tallest / (1.0 - legend_share - 0.05));
        let mut chart = over_labels(&root, title, x_labels, y_unit, 0.0..hi, 64)?;
        let mut base = vec![0.0_f64; n];
        for (k, p) in parts.iter().enumerate() {
            let colour = COLOURS[k % 6];
            // Nothing is drawn for a zero part (a rectangle of no height is not valid SVG).
            let bars: Vec<Rectangle<(f64, f64)>> = (0..n)
                .filter_map(|i| {
                    let v = p.values.get(i).copied().flatten().unwrap_or(0.0).max(0.0);
                    let r = (v > 0.0).then(|| {
                        Rectangle::new([(i as f64 - 0.35, base[i]), (i as f64 + 0.35, base[i] + v)], colour.filled())
                    });
                    base[i] += v;
                    r
                })
                .collect();
            chart
                .draw_series(bars)
                .map_err(|x| e(&x))?
                .label(&p.name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))?;
    }
    Ok(svg)
}

/// Horizontal bars, one per label, largest first as given (top overdue customers, segment mix). `reference`,
/// when given, draws a second, thinner bar per label (the deadline next to the time taken).
pub fn bars(
    title: &str,
    labels: &[String],
    x_unit: &str,
    values: &Series,
    reference: Option<&Series>,
) -> Result<String, ChartError> {
    let e = err(title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let n = labels.len().max(1);
        let all = values.values.iter().chain(reference.iter().flat_map(|r| r.values.iter())).flatten();
        let (_, hi) = y_range(all);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..hi, -0.5..(n as f64 - 0.5))
            .map_err(|x| e(&x))?;
        // The first label at the top.
        let rev: Vec<String> = labels.iter().rev().cloned().collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&move |y| label_at(&rev, *y))
            .x_desc(x_unit)
            .light_line_style(TRANSPARENT)
            .x_label_formatter(&tick)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(|x| e(&x))?;
        let row = |i: usize| (n - 1 - i) as f64;
        let colour = COLOURS[0];
        let main: Vec<Rectangle<(f64, f64)>> = values
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| Rectangle::new([(0.0, row(i) - 0.3), (v.unwrap_or(0.0), row(i) + 0.1)], colour.filled()))
            .collect();
        chart
            .draw_series(main)
            .map_err(|x| e(&x))?
            .label(&values.name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled()));
        if let Some(r) = reference {
            let colour = COLOURS[5];
            let refs: Vec<Rectangle<(f64, f64)>> = r
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| Rectangle::new([(0.0, row(i) + 0.12), (v.unwrap_or(0.0), row(i) + 0.3)], colour.filled()))
                .collect();
            chart
                .draw_series(refs)
                .map_err(|x| e(&x))?
                .label(&r.name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))?;
    }
    Ok(svg)
}

fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 12))
        .draw()
}

/// An axis number: whole numbers above 100 (money), one decimal below (days, percentages).
fn tick(v: &f64) -> String {
    if v.abs() >= 100.0 || *v == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

/// The label at a fractional axis position: only whole positions get one.
fn label_at(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    labels.get(i as usize).cloned().unwrap_or_default()
}

/// DejaVu Sans (Bitstream Vera licence, `fonts/DejaVuSans.LICENSE`): the one font the PNGs are drawn with, so
/// that they look the same on every machine and need no system fonts.
const BUNDLED_FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// A chart's SVG (as the functions above draw it) as a PNG, `scale` times its size (2 for sharp text on
/// high-density screens and in documents). Deterministic: the same SVG gives the same bytes.
pub fn png(svg: &str, scale: f32) -> Result<Vec<u8>, ChartError> {
    use resvg::{tiny_skia, usvg};
    let e =
        |what: &str, x: &dyn std::fmt::Display| ChartError { title: "PNG".to_owned(), message: format!("{what}: {x}") };
    let mut options = usvg::Options::default();
    {
        let fonts = options.fontdb_mut();
        fonts.load_font_data(BUNDLED_FONT.to_vec());
        fonts.set_sans_serif_family("DejaVu Sans");
        fonts.set_serif_family("DejaVu Sans");
        fonts.set_monospace_family("DejaVu Sans");
    }
    options.font_family = "DejaVu Sans".to_owned();
    let tree = usvg::Tree::from_str(svg, &options).map_err(|x| e("the SVG does not parse", &x))?;
    let size = tree.size().to_int_size().scale_by(scale).ok_or_else(|| e("scale", &scale))?;
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| e("an empty picture", &size.width()))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|x| e("PNG encoding", &x))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the SVG has a text element reading exactly `t` (plotters puts the text on a line of its own).
    fn has_text(svg: &str, t: &str) -> bool {
        svg.contains(&format!(">\n{t}\n</text>"))
    }

    fn months() -> Vec<String> {
        ["2013-01", "2013-02", "2013-03", "2013-04"].map(String::from).to_vec()
    }

    #[test]
    fn a_chart_as_png_has_its_size_text_drawn_with_the_bundled_font_and_the_same_bytes_twice() {
        let parts = [
            Series::new("current", vec![Some(4000.0), Some(4200.0)]),
            Series::new("past due", vec![Some(800.0), None]),
        ];
        let svg = stacked_columns("Receivables", &months()[..2], "EUR", &parts).expect("drawn");
        let png = png(&svg, 2.0).expect("rasterised");
        assert_eq!(png, super::png(&svg, 2.0).expect("again"), "deterministic");
        let picture = resvg::tiny_skia::Pixmap::decode_png(&png).expect("a PNG");
        assert_eq!((picture.width(), picture.height()), (SIZE.0 * 2, SIZE.1 * 2));
        // The title is drawn: the band where the caption sits has dark pixels, which only text puts there.
        let dark_in_title = (0..picture.width())
            .flat_map(|x| (4..40).map(move |y| (x, y)))
            .filter(|&(x, y)| picture.pixel(x, y).is_some_and(|p| p.red() < 100 && p.green() < 100 && p.blue() < 100))
            .count();
        assert!(dark_in_title > 40, "{dark_in_title} dark pixels where the title is");
        // Without the bundled font the same text would not be drawn at all (resvg skips text it has no font for).
        let mut bare = resvg::usvg::Options::default();
        bare.fontdb_mut().set_sans_serif_family("none");
        let tree = resvg::usvg::Tree::from_str(&svg, &bare).expect("parses");
        let mut blank = resvg::tiny_skia::Pixmap::new(SIZE.0, SIZE.1).expect("pixmap");
        blank.fill(resvg::tiny_skia::Color::WHITE);
        resvg::render(&tree, resvg::tiny_skia::Transform::default(), &mut blank.as_mut());
        let dark_without = (0..SIZE.0)
            .flat_map(|x| (2..20).map(move |y| (x, y)))
            .filter(|&(x, y)| blank.pixel(x, y).is_some_and(|p| p.red() < 100 && p.green() < 100 && p.blue() < 100))
            .count();
        assert_eq!(dark_without, 0, "no font, no text");
    }

    #[test]
    fn the_dso_trend_is_the_same_svg_for_the_same_numbers() {
        let dso = Series::new("DSO (3 months)", vec![Some(31.2), Some(29.8), Some(33.0), None]);
        let bp = Series::new("BPDSO", vec![Some(25.0), Some(24.1), Some(26.4), Some(25.5)]);
        let add = Series::new("ADD (days beyond terms)", vec![Some(6.2), Some(5.7), Some(6.6), Some(5.0)]);
        let svg = line_chart("DSO trend", &months(), "days", &[dso.clone(), bp.clone()], Some(&add)).expect("drawn");
        assert_eq!(svg, line_chart("DSO trend", &months(), "days", &[dso, bp], Some(&add)).expect("drawn"));
        for part in ["DSO trend", "days", "DSO (3 months)", "BPDSO", "ADD (days beyond terms)", "2013-03"] {
            assert!(has_text(&svg, part), "the chart lacks `{part}`");
        }
        insta::assert_snapshot!("dso_trend", svg);
    }

    #[test]
    fn stacked_columns_and_bars_carry_title_units_and_legend() {
        let parts = [
            Series::new("current", vec![Some(4000.0), Some(4200.0), Some(3900.0), Some(4100.0)]),
            Series::new("past due", vec![Some(800.0), Some(900.0), Some(700.0), Some(650.0)]),
            Series::new("disputed", vec![Some(0.0), Some(250.0), Some(250.0), None]),
        ];
        let svg = stacked_columns("Receivables by state", &months(), "EUR", &parts).expect("drawn");
        for part in ["Receivables by state", "EUR", "past due", "disputed"] {
            assert!(has_text(&svg, part), "the chart lacks `{part}`");
        }
        insta::assert_snapshot!("receivables_by_state", svg);
        let labels = ["logistics", "accounting"].map(String::from).to_vec();
        let taken = Series::new("median business days to resolve", vec![Some(6.0), Some(2.5)]);
        let deadline = Series::new("deadline", vec![Some(10.0), Some(5.0)]);
        let svg = bars("Dispute resolution", &labels, "business days", &taken, Some(&deadline)).expect("drawn");
        for part in ["Dispute resolution", "business days", "logistics", "deadline"] {
            assert!(has_text(&svg, part), "the chart lacks `{part}`");
        }
        insta::assert_snapshot!("dispute_resolution", svg);
    }

    #[test]
    fn an_empty_chart_is_drawn_not_refused() {
        let svg = line_chart("Empty", &[], "days", &[Series::new("none", Vec::new())], None).expect("drawn");
        assert!(svg.starts_with("<svg") && has_text(&svg, "Empty"));
    }
}
