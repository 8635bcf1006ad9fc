//! An OCI bundle in its own temp dir: `rootfs/` copied from a template and
//! `config.json` kept as a serde_json Value (written by `save()`, which the
//! Runtime helpers call before create/run).

use super::files::{TempDir, copy_tree};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What a suite writes beside config.json on every `save`.
type SaveHook = Box<dyn Fn(&Bundle)>;

pub struct Bundle {
    dir: TempDir,
    pub config: Value,
    /// Extra temp dirs whose lifetime is tied to the bundle (e.g. /out).
    extra: RefCell<Vec<TempDir>>,
    /// Writes the suite's own files next to config.json (see `save`).
    also_save: Option<SaveHook>,
}

impl Bundle {
    /// A bundle whose rootfs is a copy of `template`, with `config`.
    pub fn from_template(template: &Path, config: Value) -> Bundle {
        let dir = TempDir::new("bundle");
        copy_tree(template, &dir.path().join("rootfs"));
        Bundle {
            dir,
            config,
            extra: RefCell::new(Vec::new()),
            also_save: None,
        }
    }

    /// Runs `f` after every `save` (a suite that writes more than config.json).
    pub fn on_save(&mut self, f: impl Fn(&Bundle) + 'static) {
        self.also_save = Some(Box::new(f));
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }
    pub fn config_mut(&mut self) -> &mut Value {
        &mut self.config
    }
    /// A temp dir that lives as long as the bundle.
    pub fn temp(&self, prefix: &str) -> PathBuf {
        let t = TempDir::new(prefix);
        let p = t.path().to_path_buf();
        self.extra.borrow_mut().push(t);
        p
    }
    pub fn set_args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }
    pub fn add_mount(&mut self, m: Value) -> &mut Self {
        self.config["mounts"].as_array_mut().unwrap().push(m);
        self
    }
    /// Bind-mount `host` at `dest` with extra options (e.g. "ro" or "rw").
    pub fn bind(&mut self, host: &Path, dest: &str, opts: &[&str]) -> &mut Self {
        let mut o = vec!["rbind"];
        o.extend_from_slice(opts);
        self.add_mount(json!({
            "destination": dest, "type": "bind",
            "source": host.to_string_lossy(), "options": o,
        }))
    }
    /// A fresh host temp dir bind-mounted read-write at /out; returns its
    /// host path. It lives as long as the bundle.
    pub fn out_dir(&mut self) -> PathBuf {
        let p = self.temp("out");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).unwrap();
        self.bind(&p, "/out", &["rw"]);
        p
    }
    /// Remove a namespace type from linux.namespaces.
    pub fn remove_namespace(&mut self, ty: &str) -> &mut Self {
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != ty);
        self
    }
    /// Add (or replace) a namespace entry.
    pub fn set_namespace(&mut self, ty: &str, path: Option<&str>) -> &mut Self {
        self.remove_namespace(ty);
        let mut ns = json!({ "type": ty });
        if let Some(p) = path {
            ns["path"] = json!(p);
        }
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(ns);
        self
    }
    pub fn save(&self) {
        fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .expect("write config.json");
        if let Some(f) = &self.also_save {
            f(self);
        }
    }
}
