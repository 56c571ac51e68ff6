//! Draws the charts of BENCHMARKS.md from the output of
//! `kairoi-cli --json bench --connections 1,2,4,8`: throughput against
//! connections, and the latency percentiles of each connection count.
//!
//! ```sh
//! kairoi-cli --json bench --jobs 100000 --connections 1,2,4,8 > run1.jsonl
//! cargo run --release -p kairoi-cli --example bench_charts -- docs/charts run1.jsonl run2.jsonl
//! ```
//!
//! Each file is one sweep (one JSON object a row, as `bench --json`
//! prints them; other lines are refused, naming the file and line). It
//! writes `bench-throughput.svg` (jobs per second against connections,
//! a line per file, named after it) and `bench-latency.svg` (p50, p90,
//! p99, p99.9 and max of each connection count: the first file's rows
//! drawn solid and named, the other files' in the same colours, lighter)
//! into the output directory, and prints the rows as a Markdown table on
//! stdout (latencies in milliseconds).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plotters::prelude::*;
use serde_json::Value;

/// The percentiles of `latency_us`, in the order drawn.
const PERCENTILES: [(&str, &str); 5] = [
    ("p50", "p50"),
    ("p90", "p90"),
    ("p99", "p99"),
    ("p99_9", "p99.9"),
    ("max", "max"),
];

/// The size of each chart, in pixels.
const SIZE: (u32, u32) = (800, 480);

/// One row of a sweep.
struct Row {
    connections: f64,
    seconds: f64,
    jobs_per_second: f64,
    /// The percentiles of [`PERCENTILES`], in milliseconds.
    latency_ms: [f64; 5],
}

/// One sweep: a file's rows.
struct Run {
    name: String,
    rows: Vec<Row>,
}

fn main() -> ExitCode {
    match run() {
        Ok(written) => {
            for path in written {
                eprintln!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench_charts: {e}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<Vec<PathBuf>, String> {
    let mut args = std::env::args_os().skip(1);
    let usage = "usage: bench_charts OUT_DIR RUN.jsonl [RUN.jsonl...] \
                 (each RUN the output of kairoi-cli --json bench --connections 1,2,4,8)";
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let runs = args
        .map(|path| read_run(Path::new(&path)))
        .collect::<Result<Vec<Run>, String>>()?;
    if runs.is_empty() {
        return Err(usage.to_owned());
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let throughput_svg = out.join("bench-throughput.svg");
    throughput(&throughput_svg, &runs)?;
    let latency_svg = out.join("bench-latency.svg");
    latency(&latency_svg, &runs)?;
    print!("{}", table(&runs));
    Ok(vec![throughput_svg, latency_svg])
}

/// The rows of one file of `bench --json` output.
fn read_run(path: &Path) -> Result<Run, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = || format!("{} line {}", path.display(), n + 1);
        let json: Value =
            serde_json::from_str(line).map_err(|e| format!("{}: not JSON: {e}", at()))?;
        let number = |value: &Value, name: &str| {
            value.as_f64().ok_or_else(|| {
                format!(
                    "{}: no number {name:?}: is this a row of kairoi-cli --json bench?",
                    at()
                )
            })
        };
        let mut latency_ms = [0.0; 5];
        for (slot, (key, _)) in latency_ms.iter_mut().zip(PERCENTILES) {
            *slot = number(&json["latency_us"][key], key)? / 1000.0;
        }
        rows.push(Row {
            connections: number(&json["connections"], "connections")?,
            seconds: number(&json["seconds"], "seconds")?,
            jobs_per_second: number(&json["jobs_per_second"], "jobs_per_second")?,
            latency_ms,
        });
    }
    if rows.is_empty() {
        return Err(format!("{}: no rows", path.display()));
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok(Run { name, rows })
}

/// The rows of every run as a Markdown table.
fn table(runs: &[Run]) -> String {
    let mut text = String::from(
        "| run | connections | seconds | jobs/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for run in runs {
        for row in &run.rows {
            let [p50, p90, p99, p99_9, max] = row.latency_ms;
            text.push_str(&format!(
                "| {} | {:.0} | {:.2} | {:.0} | {p50:.1} | {p90:.1} | {p99:.1} | {p99_9:.1} | {max:.1} |\n",
                run.name, row.connections, row.seconds, row.jobs_per_second,
            ));
        }
    }
    text
}

/// A plotting error, as text.
fn drawing<E: std::fmt::Debug>(what: &Path) -> impl Fn(E) -> String + '_ {
    move |e| format!("cannot draw {}: {e:?}", what.display())
}

/// The colour of the `n`th series.
fn colour(n: usize) -> RGBColor {
    const COLOURS: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    COLOURS[n % COLOURS.len()]
}

/// Jobs per second against connections, a line per run. The connection
/// counts (1, 2, 4, 8) are spaced by their logarithm: `x` is
/// `log2(connections)`.
fn throughput(path: &Path, runs: &[Run]) -> Result<(), String> {
    let rows = runs.iter().flat_map(|r| &r.rows);
    let (low, high) = rows.clone().fold((f64::MAX, 0.0f64), |(lo, hi), r| {
        (lo.min(r.connections.log2()), hi.max(r.connections.log2()))
    });
    let top = rows.map(|r| r.jobs_per_second).fold(1.0, f64::max) * 1.15;
    let (low, high) = (low.min(high) - 0.25, high.max(low) + 0.25);
    let counts: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.rows.iter().map(|row| row.connections))
        .collect();
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing(path))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Throughput against connections", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(low..high, 0.0..top)
        .map_err(drawing(path))?;
    chart
        .configure_mesh()
        .x_desc("connections (each batch on new connections)")
        .y_desc("jobs per second")
        .x_labels(((high - low).ceil() as usize).max(2))
        .x_label_formatter(&|x| {
            // Only the connection counts measured are labelled.
            let connections = x.exp2();
            match counts.iter().any(|c| (c - connections).abs() < 1e-6) {
                true => format!("{connections:.0}"),
                false => String::new(),
            }
        })
        .max_light_lines(0)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(drawing(path))?;
    for (n, run) in runs.iter().enumerate() {
        let colour = colour(n);
        let points: Vec<(f64, f64)> = run
            .rows
            .iter()
            .map(|r| (r.connections.log2(), r.jobs_per_second))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
            .map_err(drawing(path))?
            .label(run.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, colour.filled())),
            )
            .map_err(drawing(path))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(drawing(path))?;
    root.present().map_err(drawing(path))
}

/// The latency percentiles of each connection count, in milliseconds,
/// the first run named and solid, the others lighter.
fn latency(path: &Path, runs: &[Run]) -> Result<(), String> {
    let high = runs
        .iter()
        .flat_map(|r| &r.rows)
        .flat_map(|r| r.latency_ms)
        .fold(0.01, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing(path))?;
    let caption = match runs {
        [only] => format!("Request latency percentiles, {}", only.name),
        [first, ..] => format!(
            "Request latency percentiles, {} (the other runs lighter)",
            first.name
        ),
        [] => "Request latency percentiles".to_owned(),
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(-0.25f64..4.25f64, 0.0..high)
        .map_err(drawing(path))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("milliseconds, from taken into the window to the outcome")
        .x_labels(PERCENTILES.len())
        .x_label_formatter(&|x| {
            let at = x.round();
            match ((x - at).abs() < 1e-6, PERCENTILES.get(at as usize)) {
                (true, Some((_, label))) if at >= 0.0 => (*label).to_owned(),
                _ => String::new(),
            }
        })
        .max_light_lines(0)
        .y_label_formatter(&|y| match *y {
            y if y >= 10.0 || y == 0.0 => format!("{y:.0}"),
            y if y >= 1.0 => format!("{y:.1}"),
            y => format!("{y:.2}"),
        })
        .draw()
        .map_err(drawing(path))?;
    // A colour per connection count, in the order of the first run.
    let mut counts: Vec<f64> = Vec::new();
    for row in runs.iter().flat_map(|r| &r.rows) {
        if !counts.contains(&row.connections) {
            counts.push(row.connections);
        }
    }
    for (n, run) in runs.iter().enumerate().rev() {
        for row in &run.rows {
            let at = counts.iter().position(|c| *c == row.connections);
            let colour = colour(at.unwrap_or(0));
            let points: Vec<(f64, f64)> = row
                .latency_ms
                .iter()
                .enumerate()
                .map(|(i, ms)| (i as f64, *ms))
                .collect();
            let style = match n {
                0 => colour.stroke_width(2),
                _ => colour.mix(0.35).stroke_width(1),
            };
            let series = chart
                .draw_series(LineSeries::new(points.clone(), style))
                .map_err(drawing(path))?;
            if n == 0 {
                let label = match row.connections {
                    1.0 => "1 connection".to_owned(),
                    c => format!("{c:.0} connections"),
                };
                series
                    .label(label)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
                chart
                    .draw_series(
                        points
                            .into_iter()
                            .map(|p| Circle::new(p, 3, colour.filled())),
                    )
                    .map_err(drawing(path))?;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(drawing(path))?;
    root.present().map_err(drawing(path))
}
