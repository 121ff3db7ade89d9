//! `pipeslot bench --plot FILE.svg`: one panel per group and pinning, one
//! row per function (the raw baseline first, in grey; pipeslot in orange),
//! each row showing every sample as a dot, the p10..p90 band, and the
//! median as a black tick, on an axis that starts at zero so that a row is
//! seen at its true size beside its baseline. Latency groups are in time
//! per iteration, the others in calls, messages or bytes per second.

use std::iter;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::report::{Measured, Run, Summary};

/// The chart of `run`, as an SVG document.
pub fn svg(run: &Run) -> Result<String, String> {
    let panels = panels(run);
    let height = TITLE_HEIGHT + PANEL_HEIGHT * panels.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(text)?;
        let body = root
            .titled(
                &format!(
                    "pipeslot bench {}: each measure beside its raw baseline (dots: samples; band: p10..p90; tick: median)",
                    env!("CARGO_PKG_VERSION")
                ),
                ("sans-serif", 22),
            )
            .map_err(text)?;
        let areas = body.split_evenly((panels.len().max(1), 1));
        for (area, panel) in areas.iter().zip(&panels) {
            draw_panel(area, panel, run)?;
        }
        root.present().map_err(text)?;
    }
    Ok(svg)
}

/// The measures of each group under each pinning, in run order.
fn panels(run: &Run) -> Vec<Vec<&Measured>> {
    let mut panels: Vec<Vec<&Measured>> = Vec::new();
    for m in run.measured() {
        match panels
            .iter_mut()
            .find(|p| std::ptr::eq(p[0].group, m.group) && p[0].pin == m.pin)
        {
            Some(panel) => panel.push(m),
            None => panels.push(vec![m]),
        }
    }
    panels
}

fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    panel: &[&Measured],
    run: &Run,
) -> Result<(), String> {
    // `panels` makes no empty panel.
    let first = panel[0];
    let unit = first.unit();
    let highest = panel
        .iter()
        .flat_map(|m| m.figures())
        .fold(0.0_f64, f64::max);
    let scale = unit.scale(highest);
    let names: Vec<String> = panel
        .iter()
        .map(|m| match run.ratio(m) {
            Some(ratio) => format!("{}  {ratio:.2}x {}", m.function.name, unit.ratio_kind()),
            None => format!("{}  (raw)", m.function.name),
        })
        .collect();
    let x_end = (highest / scale.size * 1.08).max(f64::MIN_POSITIVE);
    // The y axis counts upwards: reversed, the baseline is the top row.
    let rows: Vec<String> = names.into_iter().rev().collect();

    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "{} ({}): {}",
                first.group.name,
                first.pin.label(),
                unit.description()
            ),
            ("sans-serif", 16),
        )
        .margin(8)
        .margin_right(28)
        .x_label_area_size(32)
        .y_label_area_size(330)
        .build_cartesian_2d(0.0..x_end, rows[..].into_segmented())
        .map_err(text)?;
    chart
        .configure_mesh()
        .y_labels(rows.len())
        .x_desc(scale.name)
        .x_label_formatter(&|v| axis_number(*v))
        .y_label_formatter(&|row| match row {
            SegmentValue::CenterOf(name) | SegmentValue::Exact(name) => name.to_string(),
            SegmentValue::Last => String::new(),
        })
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(text)?;

    for (m, name) in panel.iter().zip(rows.iter().rev()) {
        let color = match m.function.side {
            super::measures::Side::Raw => RAW,
            super::measures::Side::Pipeslot => PIPESLOT,
        };
        let row = SegmentValue::CenterOf(name);
        let scaled = |v: f64| v / scale.size;
        let Summary {
            median, p10, p90, ..
        } = m.figure();
        chart
            .draw_series(iter::once(PathElement::new(
                vec![(scaled(p10), row.clone()), (scaled(p90), row.clone())],
                color.mix(0.3).stroke_width(14),
            )))
            .map_err(text)?;
        chart
            .draw_series(m.figures().into_iter().enumerate().map(|(i, v)| {
                // Spread the dots a little up and down, so equal ones show.
                let jitter = (i % 5) as i32 * 3 - 6;
                EmptyElement::at((scaled(v), row.clone()))
                    + Circle::new((0, jitter), 2, color.filled())
            }))
            .map_err(text)?;
        chart
            .draw_series(iter::once(
                EmptyElement::at((scaled(median), row.clone()))
                    + Rectangle::new([(-1, -11), (1, 11)], BLACK.filled()),
            ))
            .map_err(text)?;
    }
    Ok(())
}

/// An axis number without trailing zeros: 5, 2.5, 0.125.
fn axis_number(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

const WIDTH: u32 = 1100;
const TITLE_HEIGHT: u32 = 40;
const PANEL_HEIGHT: u32 = 190;
const RAW: RGBColor = RGBColor(96, 96, 96);
const PIPESLOT: RGBColor = RGBColor(224, 112, 16);
