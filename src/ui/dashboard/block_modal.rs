//! Block assist (`b`): the tools found, the scope, the exact commands for
//! the address family, what the safety checks say, and the confirmation
//! that runs them (only with `[actions] enable_block_execution = true`).
//!
//! Keys: `s` scope, `t` tool, `c` copy the commands, `x` run (asks), `y`
//! yes, `Y` yes despite a refusal, `n` no, Esc close. While the commands
//! run and after, the modal shows each one's result and output.

use std::net::IpAddr;

use ipnet::IpNet;

use super::modal::{frame, Lines};
use super::output::{self, OutputScroll};
use super::{Action, Model, Theme};
use crate::actions::block::{
    self, shell_display, BlockFlow, BlockPlan, BlockRun, SafetyContext, Scope, ScopeError, Step,
    Tool, Tools, UfwState, Verdict,
};
use crate::parse::UnixTime;
use crate::ui::input::Key;
use crate::ui::{Grid, Rect, Style};

/// Largest the modal gets (room for nft's eight commands and output).
const MAX_WIDTH: u16 = 110;
const MAX_HEIGHT: u16 = 30;

/// The block assist modal's state.
pub(crate) struct BlockAssist {
    ip: IpAddr,
    tools: Tools,
    safety: SafetyContext,
    enabled: bool,
    /// The whois network of the address, when known (whois: issue 4).
    network: Option<IpNet>,
    scope: Scope,
    /// Index of the chosen plan in `plans`.
    choice: usize,
    target: Result<IpNet, ScopeError>,
    /// One per detected tool that can express the target; with no tool
    /// found, one per tool, to show (never to run).
    plans: Vec<BlockPlan>,
    verdict: Verdict,
    flow: Option<BlockFlow>,
    /// Not root: commands carry `sudo` and run as `sudo -n`.
    sudo: bool,
    /// What `ufw status` said (`None`: not asked, or no answer yet).
    ufw: Option<UfwState>,
    /// A one-line answer to the last key (e.g. why `x` did nothing).
    note: Option<String>,
    scroll: OutputScroll,
}

impl BlockAssist {
    /// For `ip`, with the tools found, the safety context and whether
    /// execution is enabled.
    pub(crate) fn new(
        ip: IpAddr,
        tools: Tools,
        safety: SafetyContext,
        enabled: bool,
    ) -> BlockAssist {
        let mut assist = BlockAssist {
            ip,
            tools,
            safety,
            enabled,
            network: None,
            scope: Scope::Address,
            choice: 0,
            target: Ok(IpNet::from(ip)),
            plans: Vec::new(),
            verdict: Verdict::default(),
            flow: None,
            sudo: false,
            ufw: None,
            note: None,
            scroll: OutputScroll::default(),
        };
        assist.rebuild();
        assist
    }

    /// The whois network of the address (issue 4 fills it in): a third
    /// scope choice.
    pub(crate) fn with_network(mut self, network: Option<IpNet>) -> BlockAssist {
        self.network = network;
        self
    }

    /// Not running as root: the commands shown, copied and run carry
    /// `sudo` (run as `sudo -n`, which never asks for a password).
    pub(crate) fn with_sudo(mut self, sudo: bool) -> BlockAssist {
        self.sudo = sudo;
        self.rebuild();
        self
    }

    /// Open on the scope whose target is `net` (a group's network: its /24
    /// or /64, or its whois network), when one is; the scope is checked
    /// and the safety verdict made as for any other.
    pub(crate) fn with_scope_of(mut self, net: Option<IpNet>) -> BlockAssist {
        let ip = self.ip;
        let scope = self
            .scopes()
            .into_iter()
            .find(|&s| net.is_some() && block::target(ip, s).ok() == net);
        if let Some(scope) = scope {
            self.scope = scope;
            self.rebuild();
        }
        self
    }

    /// `ufw status` answered: the offer says whether a ufw rule would
    /// block anything.
    pub(crate) fn set_ufw_state(&mut self, state: UfwState) {
        self.ufw = Some(state);
    }

    /// Why the ufw plan shown would block nothing (or may not), if so.
    fn ufw_problem(&self) -> Option<&UfwState> {
        let ufw_shown = self.plan().is_some_and(|p| p.tool == Tool::Ufw);
        self.ufw
            .as_ref()
            .filter(|s| ufw_shown && **s != UfwState::Active)
    }

    /// Where the confirmation stands (`None`: nothing can run).
    pub(crate) fn step(&self) -> Option<Step> {
        self.flow.as_ref().map(BlockFlow::step)
    }

    /// The plan shown, if any.
    pub(crate) fn plan(&self) -> Option<&BlockPlan> {
        self.plans.get(self.choice)
    }

    /// The commands of the plan shown, as a shell would read them.
    pub(crate) fn command_text(&self) -> Option<String> {
        let plan = self.plan()?;
        let lines: Vec<String> = plan.commands().map(shell_display).collect();
        Some(lines.join("\n"))
    }

    /// Start the confirmed plan (`Action::RunBlock`): the session drives
    /// the run.
    pub(crate) fn start(&mut self, time: UnixTime) -> Result<BlockRun, block::FlowError> {
        let flow = self.flow.as_mut().ok_or(block::FlowError::NotConfirmed)?;
        flow.start(&self.tools, time)
    }

    /// The run could not start: back to showing the commands.
    pub(crate) fn cancel(&mut self) {
        if let Some(flow) = self.flow.as_mut() {
            flow.cancel();
        }
    }

    /// Target, plans, verdict and flow for the current scope and choice.
    fn rebuild(&mut self) {
        self.target = block::target(self.ip, self.scope);
        self.flow = None;
        let Ok(target) = self.target else {
            self.plans.clear();
            self.verdict = Verdict::default();
            return;
        };
        self.plans = BlockPlan::for_tools(&self.tools, target);
        if self.sudo {
            self.plans = self.plans.drain(..).map(BlockPlan::with_sudo).collect();
        }
        let runnable = !self.plans.is_empty();
        if !runnable {
            self.plans = Tool::ALL
                .iter()
                .filter_map(|&t| BlockPlan::for_target(t, target, self.tools.targets()))
                .map(|p| if self.sudo { p.with_sudo() } else { p })
                .collect();
        }
        self.choice = self.choice.min(self.plans.len().saturating_sub(1));
        self.verdict = self.safety.check(target);
        if let Some(plan) = self.plans.get(self.choice).filter(|_| runnable) {
            let verdict = self.verdict.clone();
            self.flow = Some(BlockFlow::new(self.ip, plan.clone(), verdict, self.enabled));
        }
    }

    fn scopes(&self) -> Vec<Scope> {
        let mut scopes = vec![Scope::Address, Scope::Subnet];
        scopes.extend(self.network.map(Scope::Network));
        scopes
    }

    /// Whether the commands are running or ran (nothing to choose any more).
    fn is_done(&self) -> bool {
        self.step() == Some(Step::Done)
    }

    /// A key in the modal. Esc is handled by the dashboard.
    pub(crate) fn on_key(&mut self, key: Key) -> Action {
        if self.is_done() {
            return match key {
                Key::Char('c') => self.copy(),
                key => {
                    self.scroll.on_key(key);
                    Action::None
                }
            };
        }
        self.note = None;
        match key {
            Key::Char('s') => {
                let scopes = self.scopes();
                let at = scopes.iter().position(|s| *s == self.scope).unwrap_or(0);
                self.scope = scopes[(at + 1) % scopes.len()];
                self.rebuild();
            }
            Key::Char('t') if !self.plans.is_empty() => {
                self.choice = (self.choice + 1) % self.plans.len();
                self.rebuild();
            }
            Key::Char('c') => return self.copy(),
            Key::Char('n') => {
                if let Some(flow) = self.flow.as_mut() {
                    flow.cancel();
                }
            }
            Key::Char(c @ ('x' | 'y' | 'Y')) => return self.confirm(c),
            _ => {}
        }
        Action::None
    }

    fn copy(&self) -> Action {
        match self.command_text() {
            Some(text) => Action::CopyText(text),
            None => Action::None,
        }
    }

    /// `x` asks, `y` answers yes, `Y` answers yes despite a refusal.
    fn confirm(&mut self, key: char) -> Action {
        if let Some(UfwState::Inactive) = self.ufw_problem() {
            self.note =
                Some("ufw is inactive: a rule would block nothing (t: another tool)".into());
            return Action::None;
        }
        let Some(flow) = self.flow.as_mut() else {
            self.note = Some(match self.target {
                Err(e) => format!("nothing to run: {e}"),
                Ok(_) => "no firewall tool was found on PATH or in /usr/sbin, /sbin".into(),
            });
            return Action::None;
        };
        let expected = match flow.step() {
            Step::Propose => 'x',
            Step::Confirm => 'y',
            Step::SecondConfirm => 'Y',
            Step::Ready | Step::Done => return Action::None,
        };
        if key != expected {
            return Action::None;
        }
        match flow.advance() {
            Ok(Step::Ready) => Action::RunBlock,
            Ok(_) => Action::None,
            Err(e) => {
                self.note = Some(e.to_string());
                Action::None
            }
        }
    }

    /// The modal, centred in `area`; `m.block` is the run once started.
    pub(super) fn draw(&mut self, t: Theme, g: &mut Grid, area: Rect, m: &Model<'_>) {
        let rect = area.centered(
            area.width.saturating_sub(4).min(MAX_WIDTH),
            area.height.saturating_sub(2).min(MAX_HEIGHT),
        );
        let title = format!(" Block assist: {} ", self.ip);
        let inner = frame(g, rect, &title, " Esc close · c copy ", t);
        let mut lines = Lines::new(g, inner);
        self.tools_line(&mut lines, t);
        self.scope_line(&mut lines, t);
        self.commands(&mut lines, t);
        self.verdict_lines(&mut lines, t);
        lines.text("", Style::new());
        match m.block.filter(|_| self.is_done()) {
            Some(run) => self.run_lines(&mut lines, run, t),
            None => self.prompt(&mut lines, t),
        }
    }

    fn tools_line(&self, lines: &mut Lines<'_>, t: Theme) {
        let Some(mut pen) = lines.next() else { return };
        pen.text("tools: ", t.heading());
        let found: Vec<&str> = self.tools.iter().map(Tool::program).collect();
        if found.is_empty() {
            pen.text(
                "none found (ufw, nft, iptables, ip6tables, cscli, fail2ban-client)",
                t.error(),
            );
        } else {
            pen.text(&found.join(", "), Style::new());
        }
    }

    fn scope_line(&self, lines: &mut Lines<'_>, t: Theme) {
        let Some(mut pen) = lines.next() else { return };
        pen.text("scope (s): ", t.heading());
        let subnet = block::target(self.ip, Scope::Subnet)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let prefix = if self.ip.to_canonical().is_ipv4() {
            "/24"
        } else {
            "/64"
        };
        let choices = [
            (Scope::Address, format!("the address {}", self.ip)),
            (Scope::Subnet, format!("its {prefix} {subnet}")),
        ];
        for (scope, text) in choices {
            let on = self.scope == scope;
            pen.text(if on { "● " } else { "○ " }, t.key());
            pen.text(&text, if on { Style::new().bold() } else { t.faint() });
            pen.text("   ", Style::new());
        }
        match self.network {
            Some(net) => {
                let on = self.scope == Scope::Network(net);
                pen.text(if on { "● " } else { "○ " }, t.key());
                pen.text(&format!("whois network {net}"), Style::new());
            }
            None => {
                pen.text("whois network: unknown", t.faint());
            }
        }
    }

    fn commands(&self, lines: &mut Lines<'_>, t: Theme) {
        if let Err(e) = self.target {
            lines.text(&format!("cannot block this scope: {e}"), t.error());
            return;
        }
        let runnable = self.flow.is_some();
        if let Some(mut pen) = lines.next() {
            pen.text("tool (t): ", t.heading());
            for (i, plan) in self.plans.iter().enumerate() {
                let on = i == self.choice;
                let style = if on { Style::new().bold() } else { t.faint() };
                pen.text(if on { "● " } else { "○ " }, t.key());
                pen.text(plan.tool.program(), style)
                    .text("  ", Style::new());
            }
        }
        let Some(plan) = self.plan() else {
            lines.text("no tool can express this target", t.error());
            return;
        };
        let heading = if runnable {
            "run by argv (no shell):"
        } else {
            "no tool found here: the command would be"
        };
        lines.text(heading, t.heading());
        for argv in plan.commands() {
            lines.text(&format!("  {}", shell_display(argv)), Style::new().bold());
        }
    }

    fn verdict_lines(&self, lines: &mut Lines<'_>, t: Theme) {
        if !self.verdict.refusals.is_empty() {
            lines.text("", Style::new());
        }
        for r in &self.verdict.refusals {
            lines.text(&format!("✗ {r}"), t.error());
        }
        for w in &self.verdict.warnings {
            lines.text(&format!("⚠ {w}"), t.suspicious());
        }
        match self.ufw_problem() {
            Some(UfwState::Inactive) => lines.text(
                "✗ ufw is inactive: this rule would block nothing (`ufw enable` first, or t for another tool)",
                t.error(),
            ),
            Some(unknown) => lines.text(
                &format!("⚠ {unknown}: the run asks again and goes on only if ufw is active"),
                t.suspicious(),
            ),
            None => {}
        }
    }

    /// What the operator can do now.
    fn prompt(&self, lines: &mut Lines<'_>, t: Theme) {
        if let Some(note) = &self.note {
            lines.text(note, t.error());
        }
        let (text, style) = match self.step() {
            _ if !self.enabled => (
                "execution is off: set [actions] enable_block_execution = true to run it \
                 from here · c copies it"
                    .to_string(),
                t.faint(),
            ),
            None => (
                "nothing can run here · c copies the command".into(),
                t.faint(),
            ),
            Some(Step::Propose) if self.verdict.needs_second_confirmation() => (
                "x run it (asks twice: see ✗ above) · c copy · s scope · t tool".into(),
                t.key(),
            ),
            Some(Step::Propose) => ("x run it · c copy · s scope · t tool".into(), t.key()),
            Some(Step::Confirm) => (
                format!(
                    "Run this now to block {}?  y yes · n no",
                    self.target_text()
                ),
                t.marker(),
            ),
            Some(Step::SecondConfirm) => (
                "Refused for the reason above. Y (shift+y) runs it anyway · n no".into(),
                t.error().bold(),
            ),
            Some(Step::Ready | Step::Done) => ("starting…".into(), t.faint()),
        };
        lines.text(&text, style);
    }

    fn target_text(&self) -> String {
        self.target
            .map(block::target_text)
            .unwrap_or_else(|_| self.ip.to_string())
    }

    /// Each command's result, then the output of the last one.
    fn run_lines(&mut self, lines: &mut Lines<'_>, run: &BlockRun, t: Theme) {
        let record = run.record();
        for (i, result) in record.commands.iter().enumerate() {
            let (state, state_style) = match &result.status {
                Err(e) => (format!("could not start: {e}"), t.error()),
                Ok(_) if result.found_block() => ("already there".into(), t.status(200)),
                Ok(_) if result.is_check && result.succeeded() => {
                    ("not there yet".into(), t.status(200))
                }
                Ok(status) => output::exit_text(*status, result.timed_out, t),
            };
            if let Some(mut pen) = lines.next() {
                pen.text(&format!("{}/{} ", i + 1, run.len()), t.faint());
                pen.text(&state, state_style).text("  $ ", t.faint());
                pen.text(&shell_display(&result.argv), Style::new());
            }
        }
        let shown = match run.running() {
            Some((argv, out)) => {
                if let Some(mut pen) = lines.next() {
                    let n = record.commands.len() + 1;
                    pen.text(&format!("{n}/{} running  $ ", run.len()), t.key());
                    pen.text(&shell_display(argv), Style::new());
                }
                out
            }
            None => {
                let verdict = if record.already_blocked() {
                    (
                        format!("done: {} was blocked already", self.target_text()),
                        t.status(200),
                    )
                } else if record.succeeded() {
                    (
                        format!("done: {} blocked", self.target_text()),
                        t.status(200),
                    )
                } else if let Some(refusal) = record.refusal() {
                    (format!("not run: {refusal}"), t.error())
                } else {
                    ("failed: nothing more was run".to_string(), t.error())
                };
                lines.text(&verdict.0, verdict.1.bold());
                match record.commands.last() {
                    Some(last) => &last.output,
                    None => return,
                }
            }
        };
        let body = lines.rest();
        self.scroll = OutputScroll {
            back: output::draw(
                lines.grid_mut(),
                body,
                shown.bytes(),
                self.scroll.back,
                Style::new(),
            ),
            page: usize::from(body.height),
        };
    }
}
