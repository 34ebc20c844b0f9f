//! `distfarm mon --live` (`distfarm top`): the farm on a full screen, redrawn a few times a
//! second. One row per host with a bar of its busy slots and a sparkline of the jobs it
//! finished per refresh; the running jobs below. Keys: `q` (or Esc, Ctrl-C) quits, `s`
//! cycles the host order (list, busy, done, failed), `o` the job order (host, elapsed, file).
//!
//! The picture is the same as `distfarm mon`'s (farm.rs), taken again at every refresh, so
//! an agent that starts or exits simply appears or disappears. ratatui draws only the cells
//! that changed, so nothing flickers; between refreshes the process sleeps in `poll`.

use std::collections::HashMap;
use std::io::Stdout;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table};

use super::farm::{self, FarmView, Sources};
use super::units::{cut, duration};
use crate::protocol::farm_view::{HostView, JobView};

pub const DEFAULT_REFRESH: Duration = Duration::from_millis(250);
/// Samples in a host's sparkline.
const HISTORY: usize = 40;
/// Below this the screen only says it is too small.
const MIN_WIDTH: u16 = 40;
const MIN_HEIGHT: u16 = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum HostOrder {
    List,
    Busy,
    Done,
    Failed,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum JobOrder {
    Host,
    Elapsed,
    File,
}

struct Screen {
    view: Option<FarmView>,
    /// Per host spec: its `done` count at the last refresh, and jobs finished per refresh.
    history: HashMap<String, (u64, Vec<u64>)>,
    host_order: HostOrder,
    job_order: JobOrder,
}

/// Puts the terminal back however the screen ends (an error, a panic).
struct RawTerminal(Terminal<CrosstermBackend<Stdout>>);

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = execute!(self.0.backend_mut(), LeaveAlternateScreen);
        let _ = self.0.show_cursor();
    }
}

pub async fn run(sources: &Sources, refresh: Duration) -> i32 {
    let mut terminal = match open_terminal() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("distfarm mon --live: cannot use the terminal: {e}");
            return crate::exit_code::ExitCode::IoError.code();
        }
    };
    let mut screen = Screen {
        view: None,
        history: HashMap::new(),
        host_order: HostOrder::List,
        job_order: JobOrder::Host,
    };
    loop {
        let view = farm::look(sources).await;
        screen.remember(view);
        if terminal.0.draw(|frame| screen.draw(frame)).is_err() {
            return crate::exit_code::ExitCode::IoError.code();
        }
        // Keys and resizes until the next refresh.
        let next = Instant::now() + refresh;
        while let Some(left) = next.checked_duration_since(Instant::now()) {
            if !event::poll(left).unwrap_or(false) {
                break;
            }
            match event::read() {
                Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                    let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL)
                        && key.code == KeyCode::Char('c');
                    match key.code {
                        KeyCode::Char('q') | KeyCode::Esc => return 0,
                        _ if ctrl_c => return 0,
                        KeyCode::Char('s') => screen.host_order = screen.host_order.next(),
                        KeyCode::Char('o') => screen.job_order = screen.job_order.next(),
                        _ => continue,
                    }
                }
                Ok(Event::Resize(..)) => {}
                Ok(_) => continue,
                Err(_) => return crate::exit_code::ExitCode::IoError.code(),
            }
            let _ = terminal.0.draw(|frame| screen.draw(frame));
        }
    }
}

fn open_terminal() -> std::io::Result<RawTerminal> {
    enable_raw_mode()?;
    let mut stdout = std::io::stdout();
    if let Err(e) = execute!(stdout, EnterAlternateScreen) {
        let _ = disable_raw_mode();
        return Err(e);
    }
    let terminal = RawTerminal(Terminal::new(CrosstermBackend::new(stdout))?);
    Ok(terminal)
}

impl HostOrder {
    fn next(self) -> Self {
        match self {
            HostOrder::List => HostOrder::Busy,
            HostOrder::Busy => HostOrder::Done,
            HostOrder::Done => HostOrder::Failed,
            HostOrder::Failed => HostOrder::List,
        }
    }

    fn name(self) -> &'static str {
        match self {
            HostOrder::List => "list",
            HostOrder::Busy => "busy",
            HostOrder::Done => "done",
            HostOrder::Failed => "failed",
        }
    }
}

impl JobOrder {
    fn next(self) -> Self {
        match self {
            JobOrder::Host => JobOrder::Elapsed,
            JobOrder::Elapsed => JobOrder::File,
            JobOrder::File => JobOrder::Host,
        }
    }

    fn name(self) -> &'static str {
        match self {
            JobOrder::Host => "host",
            JobOrder::Elapsed => "elapsed",
            JobOrder::File => "file",
        }
    }
}

impl Screen {
    fn remember(&mut self, view: FarmView) {
        for host in &view.hosts {
            let (last, samples) = self
                .history
                .entry(host.spec.clone())
                .or_insert((host.done, Vec::new()));
            // A new agent starts from 0 again: no negative throughput.
            samples.push(host.done.saturating_sub(*last));
            if samples.len() > HISTORY {
                samples.remove(0);
            }
            *last = host.done;
        }
        self.view = Some(view);
    }

    fn draw(&self, frame: &mut ratatui::Frame) {
        let area = frame.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let text = format!(
                "terminal too small ({}x{}); needs {MIN_WIDTH}x{MIN_HEIGHT}. q quits",
                area.width, area.height
            );
            frame.render_widget(Paragraph::new(text), area);
            return;
        }
        let Some(view) = &self.view else { return };
        let host_rows = view.hosts.len().max(1) as u16 + 3;
        let [top, hosts_area, jobs_area, keys] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Max(host_rows),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(headline(view)), top);
        self.draw_hosts(frame, view, hosts_area);
        self.draw_jobs(frame, view, jobs_area);
        let help = format!(
            "q quit   s hosts by {} (next: {})   o jobs by {}",
            self.host_order.name(),
            self.host_order.next().name(),
            self.job_order.name()
        );
        frame.render_widget(
            Paragraph::new(Line::from(help)).style(Style::new().add_modifier(Modifier::DIM)),
            keys,
        );
    }

    fn draw_hosts(&self, frame: &mut ratatui::Frame, view: &FarmView, area: ratatui::layout::Rect) {
        let mut hosts: Vec<&HostView> = view.hosts.iter().collect();
        match self.host_order {
            HostOrder::List => {}
            HostOrder::Busy => hosts.sort_by_key(|h| std::cmp::Reverse(h.busy)),
            HostOrder::Done => hosts.sort_by_key(|h| std::cmp::Reverse(h.done)),
            HostOrder::Failed => hosts.sort_by_key(|h| std::cmp::Reverse(h.failed + h.refused)),
        }
        // The sparkline takes what the fixed columns leave.
        let spark_width = area
            .width
            .saturating_sub(24 + 16 + 6 * 3 + 8 + 8)
            .clamp(4, HISTORY as u16);
        let rows = hosts.iter().map(|h| {
            let samples = self
                .history
                .get(&h.spec)
                .map(|(_, s)| s.as_slice())
                .unwrap_or(&[]);
            Row::new(vec![
                cut(&h.spec, 24),
                busy_bar(h.busy, h.limit, 10),
                h.done.to_string(),
                (h.failed + h.refused).to_string(),
                h.backoff_left_ms.map_or("-".into(), duration),
                h.median_job_ms.map_or("-".into(), duration),
                sparkline(samples, spark_width as usize),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Length(24),
                Constraint::Length(16),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Min(4),
            ],
        )
        .header(
            Row::new(vec![
                "HOST",
                "BUSY",
                "DONE",
                "FAIL",
                "BACKOFF",
                "MEDIAN",
                "JOBS/TICK",
            ])
            .style(Style::new().add_modifier(Modifier::BOLD)),
        )
        .block(Block::bordered().title(" hosts "));
        frame.render_widget(table, area);
    }

    fn draw_jobs(&self, frame: &mut ratatui::Frame, view: &FarmView, area: ratatui::layout::Rect) {
        let mut jobs: Vec<&JobView> = view.jobs.iter().collect();
        match self.job_order {
            JobOrder::Host => {}
            JobOrder::Elapsed => jobs.sort_by_key(|j| std::cmp::Reverse(j.elapsed_ms)),
            JobOrder::File => jobs.sort_by(|a, b| a.file.cmp(&b.file)),
        }
        let rows = jobs.iter().map(|j| {
            Row::new(vec![
                j.pid.to_string(),
                j.phase.clone(),
                j.file.clone(),
                j.host.clone().unwrap_or_else(|| "-".into()),
                j.slot.map_or("-".into(), |s| s.to_string()),
                duration(j.elapsed_ms),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Length(8),
                Constraint::Length(11),
                Constraint::Min(12),
                Constraint::Length(18),
                Constraint::Length(5),
                Constraint::Length(8),
            ],
        )
        .header(
            Row::new(vec!["PID", "PHASE", "FILE", "HOST", "SLOT", "ELAPSED"])
                .style(Style::new().add_modifier(Modifier::BOLD)),
        )
        .block(Block::bordered().title(format!(
            " jobs: {} running, {} queued ",
            view.jobs.iter().filter(|j| j.phase != "queued").count(),
            view.queued
        )));
        frame.render_widget(table, area);
    }
}

fn headline(view: &FarmView) -> String {
    match (&view.agent, &view.note) {
        (Some(agent), _) => format!(
            "distfarm top — agent {} up {} — {}",
            agent.pid,
            duration(agent.uptime_ms),
            view.distcc_dir
        ),
        (None, Some(_)) => format!(
            "distfarm top — no agent running and no jobs in {}/state (waiting)",
            view.distcc_dir
        ),
        (None, None) => format!(
            "distfarm top — no agent; jobs from {}/state",
            view.distcc_dir
        ),
    }
}

/// `███░░░░░ 3/8`: `width` cells of bar, then the numbers.
fn busy_bar(busy: u32, limit: u32, width: usize) -> String {
    let filled = if limit == 0 {
        0
    } else {
        (busy.min(limit) as usize * width).div_ceil(limit as usize)
    };
    format!(
        "{}{} {busy}/{limit}",
        "█".repeat(filled),
        "░".repeat(width - filled)
    )
}

/// The last `width` samples as block characters scaled to the largest.
fn sparkline(samples: &[u64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let shown = &samples[samples.len().saturating_sub(width)..];
    let top = shown.iter().copied().max().unwrap_or(0).max(1);
    shown
        .iter()
        .map(|&n| {
            if n == 0 {
                ' '
            } else {
                BARS[((n * 7) / top) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_bars_round_up_so_one_busy_slot_shows() {
        assert_eq!(busy_bar(0, 8, 8), "░░░░░░░░ 0/8");
        assert_eq!(busy_bar(1, 8, 4), "█░░░ 1/8");
        assert_eq!(busy_bar(8, 8, 4), "████ 8/8");
    }

    #[test]
    fn sparklines_scale_to_the_largest_sample() {
        assert_eq!(sparkline(&[0, 1, 2, 4], 10), " ▂▄█");
        assert_eq!(sparkline(&[5, 0, 1], 2), " █");
    }
}
