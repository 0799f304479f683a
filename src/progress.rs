//! Progress bars for long commands: shown on a terminal, silent in pipes and CI.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress should be drawn at all.
pub fn enabled() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let pb = if enabled() {
        ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    pb
}

/// Import progress: one bar per pass over a file, in bytes, with rows and rate.
#[derive(Default)]
pub struct ImportBar {
    bar: Option<ProgressBar>,
}

impl cobro_pipeline::import::Progress for ImportBar {
    fn start_file(&mut self, path: &Path, table: &str, bytes: u64) {
        let pb = bar(bytes, "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}");
        pb.set_message(format!("{} → {table}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
        self.bar = Some(pb);
    }
    fn advance(&mut self, rows: u64, bytes: u64) {
        if let Some(pb) = &self.bar {
            pb.set_position(bytes);
            pb.set_prefix(rows.to_string());
        }
    }
    fn finish_file(&mut self) {
        if let Some(pb) = self.bar.take() {
            pb.finish_and_clear();
        }
    }
}

/// Generator progress, in invoices.
pub fn invoices(total: u64) -> ProgressBar {
    bar(total, "generating [{bar:30}] {human_pos}/{human_len} invoices {per_sec} ETA {eta}")
}

/// A spinner for steps without a known length (snapshot build).
pub fn spinner(msg: &str) -> ProgressBar {
    let pb = if enabled() { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    pb.set_message(msg.to_owned());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}
