//! TAP output: one `ok`/`not ok` line per check.

pub(crate) struct Tap {
    pub(crate) n: usize,
    pub(crate) failed: usize,
}

impl Tap {
    pub(crate) fn check(
        &mut self,
        section: &str,
        what: &str,
        ok: bool,
        expected: &str,
        found: &str,
    ) {
        self.n += 1;
        if ok {
            println!("ok {} - {section}: {what}", self.n);
        } else {
            self.failed += 1;
            println!(
                "not ok {} - {section}: {what} (expected {expected}, found {found})",
                self.n
            );
        }
    }
    pub(crate) fn eq<T: PartialEq + std::fmt::Debug>(
        &mut self,
        section: &str,
        what: &str,
        exp: T,
        found: T,
    ) {
        let ok = exp == found;
        self.check(
            section,
            what,
            ok,
            &format!("{exp:?}"),
            &format!("{found:?}"),
        );
    }
    pub(crate) fn note(&self, msg: &str) {
        println!("# {msg}");
    }
}
