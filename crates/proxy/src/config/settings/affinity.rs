//! `worker_cpu_affinity` of `hookyard.yaml`: the CPU each worker thread runs on.

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde::{Serialize, Serializer};

use crate::config::yaml::{Reader, kind};

/// The highest CPU number a list may name, as the kernel's CPU sets count them.
const MAX_CPU: usize = 1023;

/// Which CPU each worker thread runs on (nginx's `worker_cpu_affinity`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CpuAffinity {
    /// Wherever the kernel's scheduler puts it.
    #[default]
    Off,
    /// Worker *i* on the *i*-th CPU this process may run on, from the first again when there
    /// are more workers than CPUs.
    Auto,
    /// Worker *i* on the *i*-th CPU of the list, from the first again when there are more
    /// workers than entries.
    Cpus(Vec<usize>),
}

impl CpuAffinity {
    /// The CPU of worker `index` among the process's `allowed` ones (in increasing order):
    /// `None` when not pinned.
    pub fn cpu_of(&self, index: usize, allowed: &[usize]) -> Option<usize> {
        let cpus = match self {
            CpuAffinity::Off => return None,
            CpuAffinity::Auto => allowed,
            CpuAffinity::Cpus(cpus) => cpus,
        };
        (!cpus.is_empty()).then(|| cpus[index % cpus.len()])
    }
}

/// As written in `hookyard.yaml`: `off`, `auto` or the list.
impl Serialize for CpuAffinity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CpuAffinity::Off => s.serialize_str("off"),
            CpuAffinity::Auto => s.serialize_str("auto"),
            CpuAffinity::Cpus(cpus) => cpus.serialize(s),
        }
    }
}

/// `worker_cpu_affinity`'s value; `None` after saying what is wrong with it.
pub(super) fn parse(r: &mut Reader<'_>, value: &MarkedYaml<'_>) -> Option<CpuAffinity> {
    const WHAT: &str = "`worker_cpu_affinity`";
    match &value.data {
        YamlData::Value(Scalar::String(s)) if s == "off" => Some(CpuAffinity::Off),
        YamlData::Value(Scalar::String(s)) if s == "auto" => Some(CpuAffinity::Auto),
        YamlData::Sequence(items) if !items.is_empty() => {
            let mut cpus = Vec::with_capacity(items.len());
            for item in items {
                let cpu = match &item.data {
                    YamlData::Value(Scalar::Integer(n)) => usize::try_from(*n).ok(),
                    _ => None,
                };
                match cpu {
                    Some(cpu) if cpu <= MAX_CPU => cpus.push(cpu),
                    _ => r.error(
                        item,
                        format!("an entry of {WHAT} must be a CPU number from 0 to {MAX_CPU}"),
                    ),
                }
            }
            (cpus.len() == items.len()).then_some(CpuAffinity::Cpus(cpus))
        }
        YamlData::Sequence(_) => {
            r.error(value, format!("{WHAT} needs at least one CPU"));
            None
        }
        _ => {
            let found = match &value.data {
                YamlData::Value(Scalar::String(s)) => format!("`{s}`"),
                _ => kind(value).to_owned(),
            };
            r.error(value, format!("{WHAT} must be off, auto or a list of CPUs, found {found}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::*;

    #[test]
    fn the_three_forms_parse_and_off_is_the_default() {
        assert_eq!(parse("").unwrap().worker_cpu_affinity, CpuAffinity::Off);
        assert_eq!(
            parse("worker_cpu_affinity: off").unwrap().worker_cpu_affinity,
            CpuAffinity::Off
        );
        let auto = parse("worker_cpu_affinity: auto").unwrap();
        assert_eq!(auto.worker_cpu_affinity, CpuAffinity::Auto);
        let listed = parse("workers: 3\nworker_cpu_affinity: [2, 0]").unwrap();
        assert_eq!(listed.worker_cpu_affinity, CpuAffinity::Cpus(vec![2, 0]));
    }

    #[test]
    fn bad_values_are_named_with_their_line() {
        let cases = [
            ("worker_cpu_affinity: yes", "must be off, auto or a list of CPUs, found `yes`"),
            ("worker_cpu_affinity: 3", "must be off, auto or a list of CPUs, found an integer"),
            ("worker_cpu_affinity: []", "`worker_cpu_affinity` needs at least one CPU"),
            ("worker_cpu_affinity:\n  - 1\n  - -1", "must be a CPU number from 0 to 1023"),
            ("worker_cpu_affinity: [1024]", "must be a CPU number from 0 to 1023"),
            ("worker_cpu_affinity: [a]", "must be a CPU number from 0 to 1023"),
        ];
        for (text, reason) in cases {
            let problems = parse(text).unwrap_err();
            let line = text.lines().count();
            assert_eq!(problems.len(), 1, "{text}: {problems:?}");
            let at = if text.contains("-1") { 3 } else { line };
            assert!(problems[0].starts_with(&format!("/c/hookyard.yaml:{at}: ")), "{problems:?}");
            assert!(problems[0].contains(reason), "{text}: {problems:?}");
        }
    }

    #[test]
    fn workers_take_their_cpus_in_turn() {
        let allowed = [0, 2, 5];
        let cpus = |a: &CpuAffinity| (0..5).map(|i| a.cpu_of(i, &allowed)).collect::<Vec<_>>();
        assert_eq!(cpus(&CpuAffinity::Off), [None; 5]);
        assert_eq!(cpus(&CpuAffinity::Auto), [Some(0), Some(2), Some(5), Some(0), Some(2)]);
        let listed = CpuAffinity::Cpus(vec![5, 2]);
        assert_eq!(cpus(&listed), [Some(5), Some(2), Some(5), Some(2), Some(5)]);
        assert_eq!(CpuAffinity::Auto.cpu_of(0, &[]), None);
    }

    #[test]
    fn it_is_shown_as_written() {
        let shown = |a: CpuAffinity| serde_json::to_string(&a).unwrap();
        assert_eq!(shown(CpuAffinity::Off), "\"off\"");
        assert_eq!(shown(CpuAffinity::Auto), "\"auto\"");
        assert_eq!(shown(CpuAffinity::Cpus(vec![1, 0])), "[1,0]");
    }
}
