//! The scenario model and its runner: a scenario (a config plus a list of
//! steps) runs once against the reference runtime (runc) and once against
//! hull, each with its own bundle, `--root`, id, cgroup and host dirs; every
//! step records what a caller can observe under a stable key; the two maps
//! are compared, and a divergence fails unless docs/compat.md lists it.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// How long one runtime invocation may take before it is killed.
const CMD_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Scenario description
// ---------------------------------------------------------------------------

/// What the paths and names of one runtime's run are; strings in the config
/// and in step arguments may use them as `{id}`, `{bundle}`, `{rootfs}`,
/// `{out}`, `{work}`, `{root}`, `{sock}` and `{cgroup}`.
pub struct Ctx {
    pub id: String,
    pub bundle: PathBuf,
    pub out: PathBuf,
    pub work: PathBuf,
    pub root: PathBuf,
    /// The container's cgroupsPath (a child of `cgparent`).
    pub cgroup: String,
    pub cgparent: String,
}

impl Ctx {
    pub fn rootfs(&self) -> PathBuf {
        self.bundle.join("rootfs")
    }
    pub fn expand(&self, s: &str) -> String {
        s.replace("{id}", &self.id)
            .replace("{bundle}", &self.bundle.to_string_lossy())
            .replace("{rootfs}", &self.rootfs().to_string_lossy())
            .replace("{out}", &self.out.to_string_lossy())
            .replace("{work}", &self.work.to_string_lossy())
            .replace("{root}", &self.root.to_string_lossy())
            .replace("{sock}", &self.work.join("console.sock").to_string_lossy())
            .replace("{cgroup}", &self.cgroup)
    }
    /// Host-specific strings replaced by placeholders in everything
    /// recorded, longest first.
    fn normalisers(&self) -> Vec<(String, &'static str)> {
        let mut v = vec![
            (self.rootfs().to_string_lossy().to_string(), "<rootfs>"),
            (self.bundle.to_string_lossy().to_string(), "<bundle>"),
            (self.out.to_string_lossy().to_string(), "<out>"),
            (self.work.to_string_lossy().to_string(), "<work>"),
            (self.root.to_string_lossy().to_string(), "<root>"),
            (self.cgroup.clone(), "<cgroup>"),
            (self.cgparent.clone(), "<cgparent>"),
            (self.id.clone(), "<id>"),
            (
                std::env::current_dir()
                    .map(|d| d.to_string_lossy().to_string())
                    .unwrap_or_default(),
                "<test cwd>",
            ),
        ];
        v.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        v
    }
    pub fn normalise(&self, s: &str) -> String {
        let mut s = s.replace("\r\n", "\n").replace(['\r', '\0'], "");
        for (from, to) in self.normalisers() {
            if !from.is_empty() {
                s = s.replace(&from, to);
            }
        }
        s
    }
}

type Edit = Box<dyn Fn(&mut Value, &Ctx) + Send + Sync>;

/// How a command's stdin/stdout/stderr are connected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Io {
    /// stdin /dev/null, stdout and stderr to files read after the scenario
    /// (a detached container keeps writing to them).
    Files,
    /// A pty as controlling terminal and stdio (a user at a terminal).
    Pty,
    /// Files, plus a console socket at `{sock}` whose pty master is read.
    Console,
}

/// How a command's stdout is recorded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Output {
    /// stdout as text; stderr without the runtime's own diagnostic lines.
    Text,
    /// stdout is the output of the probe script: one key per aspect.
    Probe,
    /// stdout is `state` JSON: one key per field.
    State,
    /// stdout is `list --format json`.
    List,
    /// stdout is `ps --format json`: the number of processes.
    PsJson,
    /// stdout is `events --stats`: the shape of the JSON.
    Events,
    /// stdout is `--version`: the line labels.
    Version,
    /// Only the exit status (usage errors: both outputs are the runtime's
    /// own wording).
    ExitOnly,
}

pub struct Cmd {
    pub args: Vec<String>,
    pub io: Io,
    pub output: Output,
    pub stdin: Option<String>,
}

impl Cmd {
    pub fn probe(mut self) -> Self {
        self.output = Output::Probe;
        self
    }
    pub fn tty(mut self) -> Self {
        self.io = Io::Pty;
        self
    }
    pub fn console(mut self) -> Self {
        self.io = Io::Console;
        self
    }
    pub fn stdin(mut self, s: &str) -> Self {
        self.stdin = Some(s.to_string());
        self
    }
    pub fn output(mut self, o: Output) -> Self {
        self.output = o;
        self
    }
}

pub enum Step {
    Cmd(Cmd),
    /// Poll `state` until the container is stopped (or gone); records the
    /// last status seen.
    WaitStopped,
    /// Wait until a file (placeholders allowed) exists.
    WaitFile(String),
    /// Read these cgroup files (v1 names: the controller is the prefix).
    Cgroup(Vec<&'static str>),
    /// From outside: namespaces shared with the host, id maps, cgroup,
    /// oom_score_adj of the container's init.
    Outside,
    /// A host shell command for set-up; it must succeed (not observed).
    Sh(String),
    /// Write a host file.
    Write(String, String),
    Sleep(u64),
}

impl From<Cmd> for Step {
    fn from(c: Cmd) -> Step {
        Step::Cmd(c)
    }
}

pub struct Scenario {
    edits: Vec<Edit>,
    steps: Vec<Step>,
}

impl Scenario {
    /// A scenario whose container process runs `args` (busybox rootfs,
    /// the `runc spec` config with a cgroup namespace and cgroupsPath set).
    pub fn new(args: &[&str]) -> Scenario {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut s = Scenario {
            edits: Vec::new(),
            steps: Vec::new(),
        };
        s.edits.push(Box::new(move |c, _| {
            c["process"]["args"] = json!(args);
            c["linux"]["cgroupsPath"] = json!("{cgroup}");
        }));
        s
    }
    /// The container process is the probe script (all aspects).
    pub fn probe() -> Scenario {
        Scenario::new(&["sh", "-c", crate::observe::PROBE])
    }
    /// Edit the config (after the earlier edits); strings in it may use
    /// the placeholders of [`Ctx`], expanded when it is saved.
    pub fn edit(mut self, f: impl Fn(&mut Value, &Ctx) + Send + Sync + 'static) -> Self {
        self.edits.push(Box::new(f));
        self
    }
    /// Set the config field at a JSON pointer (parents are created).
    pub fn set(self, pointer: &str, v: Value) -> Self {
        let pointer = pointer.to_string();
        self.edit(move |c, _| set_pointer(c, &pointer, v.clone()))
    }
    /// Remove the config field at a JSON pointer.
    pub fn unset(self, pointer: &str) -> Self {
        let pointer = pointer.to_string();
        self.edit(move |c, _| {
            let (parent, last) = pointer.rsplit_once('/').unwrap();
            if let Some(Value::Object(m)) = c.pointer_mut(parent) {
                m.remove(last);
            }
        })
    }
    /// Merge `v` into linux.resources.
    pub fn resources(self, v: Value) -> Self {
        self.edit(move |c, _| {
            let r = &mut c["linux"]["resources"];
            for (k, val) in v.as_object().unwrap() {
                r[k] = val.clone();
            }
        })
    }
    pub fn add_mount(self, m: Value) -> Self {
        self.edit(move |c, _| c["mounts"].as_array_mut().unwrap().push(m.clone()))
    }
    /// Bind the host dir `{out}` read-write at /out.
    pub fn out_mount(self) -> Self {
        self.add_mount(
            json!({"destination": "/out", "type": "bind", "source": "{out}",
                              "options": ["rbind", "rw"]}),
        )
    }
    pub fn without_ns(self, ty: &'static str) -> Self {
        self.edit(move |c, _| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != ty)
        })
    }
    pub fn with_ns(self, ty: &'static str) -> Self {
        self.edit(move |c, _| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({ "type": ty }))
        })
    }
    /// A user namespace mapping container 0-65535 to host 100000-165535.
    pub fn userns(self) -> Self {
        self.with_ns("user").edit(|c, _| {
            let m = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
            c["linux"]["uidMappings"] = m.clone();
            c["linux"]["gidMappings"] = m;
        })
    }
    /// Add a hook of `kind` running `sh -c script` (host paths; for
    /// startContainer the container's).
    pub fn hook(self, kind: &'static str, script: &str) -> Self {
        let h = json!({ "path": "/bin/sh", "args": ["sh", "-c", script] });
        self.edit(move |c, _| {
            let hooks = &mut c["hooks"];
            if hooks.is_null() {
                *hooks = json!({});
            }
            if hooks[kind].is_null() {
                hooks[kind] = json!([]);
            }
            hooks[kind].as_array_mut().unwrap().push(h.clone());
        })
    }
    /// Set-up on the host (files in the rootfs, modes...) before the run.
    pub fn setup(self, f: impl Fn(&Ctx) + Send + Sync + 'static) -> Self {
        self.edit(move |_, ctx| f(ctx))
    }
    pub fn step(mut self, s: impl Into<Step>) -> Self {
        self.steps.push(s.into());
        self
    }
    pub fn steps<I: IntoIterator<Item = Step>>(mut self, s: I) -> Self {
        self.steps.extend(s);
        self
    }
}

pub fn set_pointer(c: &mut Value, pointer: &str, v: Value) {
    let mut cur = c;
    for part in pointer.trim_start_matches('/').split('/') {
        if cur.is_null() {
            *cur = json!({});
        }
        cur = &mut cur[part];
    }
    *cur = v;
}

// Step constructors: `{id}` and `--bundle {bundle}` are filled in.

fn cmd(args: &[&str]) -> Cmd {
    Cmd {
        args: args.iter().map(|s| s.to_string()).collect(),
        io: Io::Files,
        output: Output::Text,
        stdin: None,
    }
}
/// Any runtime command line (placeholders allowed).
pub fn raw(args: &[&str]) -> Cmd {
    cmd(args)
}
pub fn run(extra: &[&str]) -> Cmd {
    let mut a = vec!["run", "--bundle", "{bundle}"];
    a.extend_from_slice(extra);
    a.push("{id}");
    cmd(&a)
}
pub fn create(extra: &[&str]) -> Cmd {
    let mut a = vec!["create", "--bundle", "{bundle}"];
    a.extend_from_slice(extra);
    a.push("{id}");
    cmd(&a)
}
pub fn start() -> Cmd {
    cmd(&["start", "{id}"])
}
/// `exec [flags...] {id} [args...]`: `flags` end at "--".
pub fn exec(flags_and_args: &[&str]) -> Cmd {
    let mut a = vec!["exec"];
    let split = flags_and_args.iter().position(|s| *s == "--");
    match split {
        Some(i) => {
            a.extend_from_slice(&flags_and_args[..i]);
            a.push("{id}");
            a.extend_from_slice(&flags_and_args[i + 1..]);
        }
        None => {
            a.push("{id}");
            a.extend_from_slice(flags_and_args);
        }
    }
    cmd(&a)
}
pub fn kill(extra: &[&str]) -> Cmd {
    let mut a = vec!["kill"];
    let (flags, sig): (Vec<&str>, Vec<&str>) = extra.iter().partition(|s| s.starts_with('-'));
    a.extend(flags);
    a.push("{id}");
    a.extend(sig);
    cmd(&a)
}
pub fn pause() -> Cmd {
    cmd(&["pause", "{id}"])
}
pub fn resume() -> Cmd {
    cmd(&["resume", "{id}"])
}
pub fn state() -> Cmd {
    cmd(&["state", "{id}"]).output(Output::State)
}
pub fn delete(extra: &[&str]) -> Cmd {
    let mut a = vec!["delete"];
    a.extend_from_slice(extra);
    a.push("{id}");
    cmd(&a)
}
pub fn update(extra: &[&str]) -> Cmd {
    let mut a = vec!["update"];
    a.extend_from_slice(extra);
    a.push("{id}");
    cmd(&a)
}
pub fn wait_stopped() -> Step {
    Step::WaitStopped
}
pub fn cgroup(files: &[&'static str]) -> Step {
    Step::Cgroup(files.to_vec())
}
pub fn outside() -> Step {
    Step::Outside
}
pub fn sh(c: &str) -> Step {
    Step::Sh(c.to_string())
}
pub fn write(path: &str, content: &str) -> Step {
    Step::Write(path.to_string(), content.to_string())
}
pub fn wait_file(path: &str) -> Step {
    Step::WaitFile(path.to_string())
}
pub fn sleep_ms(ms: u64) -> Step {
    Step::Sleep(ms)
}

mod run;
pub use run::check;
