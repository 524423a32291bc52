//! Worker threads pinned to CPUs (`worker_cpu_affinity` of `hookyard.yaml`).
//!
//! A worker is one thread serving its connections from start to end, so where the kernel
//! runs it decides how long its clients wait when the machine is busy: two workers the
//! scheduler keeps on one CPU take turns, and each stalls all of its connections for a time
//! slice while the other runs. Pinned, each has its CPU to itself (as far as the rest of the
//! machine lets it).

use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

use crate::config::CpuAffinity;

/// The CPU of each of `workers` workers under `affinity` (`None`: wherever the kernel puts
/// it), or why a CPU of the list cannot be one.
pub(super) fn plan(affinity: &CpuAffinity, workers: usize) -> Result<Vec<Option<usize>>, String> {
    if *affinity == CpuAffinity::Off {
        return Ok(vec![None; workers]);
    }
    let allowed = allowed();
    if let CpuAffinity::Cpus(cpus) = affinity
        && let Some(cpu) = cpus.iter().find(|cpu| !allowed.is_empty() && !allowed.contains(cpu))
    {
        return Err(format!(
            "`worker_cpu_affinity`: CPU {cpu} is not one this process may run on ({})",
            ranges(&allowed)
        ));
    }
    Ok((0..workers).map(|index| affinity.cpu_of(index, &allowed)).collect())
}

/// Runs the calling thread on `cpu` only.
pub(super) fn pin(cpu: usize) -> std::io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu);
    Ok(sched_setaffinity(None, &set)?)
}

/// The CPUs this process may run on, in increasing order; none when the kernel does not say.
fn allowed() -> Vec<usize> {
    match sched_getaffinity(None) {
        Ok(set) => (0..CpuSet::MAX_CPU).filter(|&cpu| set.is_set(cpu)).collect(),
        Err(_) => Vec::new(),
    }
}

/// `cpus` (increasing) as Linux lists them: `0-3,6`.
fn ranges(cpus: &[usize]) -> String {
    let mut out = Vec::new();
    let mut rest = cpus;
    while let Some(&first) = rest.first() {
        let run = rest.iter().enumerate().take_while(|&(i, &cpu)| cpu == first + i).count();
        let last = rest[run - 1];
        out.push(if last == first { first.to_string() } else { format!("{first}-{last}") });
        rest = &rest[run..];
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_are_listed_as_linux_lists_them() {
        assert_eq!(ranges(&[]), "");
        assert_eq!(ranges(&[0]), "0");
        assert_eq!(ranges(&[0, 1, 2, 3, 6, 8, 9]), "0-3,6,8-9");
    }

    #[test]
    fn a_cpu_this_process_may_not_use_is_refused() {
        let allowed = allowed();
        assert!(!allowed.is_empty(), "the kernel gives this process's CPUs");
        let other = (0..CpuSet::MAX_CPU).find(|cpu| !allowed.contains(cpu)).unwrap();
        let err = plan(&CpuAffinity::Cpus(vec![allowed[0], other]), 2).unwrap_err();
        let reason =
            format!("CPU {other} is not one this process may run on ({})", ranges(&allowed));
        assert!(err.ends_with(&reason), "{err}");
        let listed = CpuAffinity::Cpus(vec![allowed[0]]);
        assert_eq!(plan(&listed, 2).unwrap(), [Some(allowed[0]); 2]);
        assert_eq!(plan(&CpuAffinity::Off, 2).unwrap(), [None; 2]);
        assert_eq!(plan(&CpuAffinity::Auto, 1).unwrap(), [Some(allowed[0])]);
    }
}
