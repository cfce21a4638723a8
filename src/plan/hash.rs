//! Hash tables: every remainder of the policy's modulus covered; growth to a multiple splits
//! the old partitions, a smaller modulus shrinks.

use super::{action, partition_name, Action, ActionKind, FitError, HashSplit};
use crate::catalog::{PartBound, Partition, Table};
use crate::name_template::Namer;
use crate::names::QualifiedName;
use crate::policy::Policy;

/// How new hash partitions are named: the policy's `name_template` (variables `table`,
/// `modulus`, `remainder`), else the table's own pattern when every hash partition it has is
/// named `<prefix><remainder>` with one prefix (`sessions_h0`, `sessions_h1`, ...), else
/// `<table>_m<modulus>_r<remainder>`.
enum HashNaming {
    Template(Box<Namer>),
    Prefix(String),
    Default,
}

impl HashNaming {
    fn of(
        policy: &Policy,
        table: &Table,
        hashed: &[(&Partition, u32, u32)],
    ) -> Result<Self, FitError> {
        if let Some(t) = &policy.name_template {
            let namer =
                Namer::new(t, &table.name.name).map_err(|e| FitError::Template(e.to_string()))?;
            return Ok(HashNaming::Template(Box::new(namer)));
        }
        let default =
            |p: &Partition, m: u32, r: u32| p.name.name == format!("{}_m{m}_r{r}", table.name.name);
        if hashed.is_empty() || hashed.iter().all(|(p, m, r)| default(p, *m, *r)) {
            return Ok(HashNaming::Default);
        }
        let prefixes: Vec<Option<&str>> = hashed
            .iter()
            .map(|(p, _, r)| p.name.name.strip_suffix(&r.to_string()))
            .collect();
        match prefixes.first() {
            Some(Some(first))
                if !first.is_empty()
                    && !first.ends_with(|c: char| c.is_ascii_digit())
                    && prefixes.iter().all(|p| *p == Some(*first)) =>
            {
                Ok(HashNaming::Prefix(first.to_string()))
            }
            _ => Ok(HashNaming::Default),
        }
    }

    fn name(&self, table: &Table, m: u32, r: u32) -> Result<QualifiedName, FitError> {
        match self {
            HashNaming::Template(n) => {
                let name = n
                    .hash_name(m, r)
                    .map_err(|e| FitError::Template(e.to_string()))?;
                Ok(QualifiedName::new(table.name.schema.clone(), name))
            }
            HashNaming::Prefix(p) => {
                let name = format!("{p}{r}");
                if name.len() > crate::policy::MAX_IDENT_BYTES {
                    return Err(FitError::NameTooLong { name });
                }
                Ok(QualifiedName::new(table.name.schema.clone(), name))
            }
            HashNaming::Default => partition_name(&table.name, &format!("m{m}_r{r}")),
        }
    }
}

/// Hash tables: every remainder of `modulus` covered. Partitions of a smaller modulus that
/// divides it are replaced (growth); a larger modulus means shrinking.
pub(super) fn plan_hash(policy: &Policy, table: &Table) -> Result<Vec<Action>, FitError> {
    let n = policy.modulus.ok_or(FitError::NoModulus)?;
    if !(1..=crate::policy::MAX_MODULUS).contains(&n) {
        return Err(FitError::NoModulus);
    }
    let hashed: Vec<(&Partition, u32, u32)> = table
        .partitions
        .iter()
        .filter_map(|p| match p.bound {
            PartBound::Hash { modulus, remainder } => Some((p, modulus, remainder)),
            _ => None,
        })
        .collect();
    if let Some((p, modulus, remainder)) = hashed.iter().find(|h| h.2 >= h.1) {
        return Err(FitError::BadHashBound {
            partition: p.name.clone(),
            modulus: *modulus,
            remainder: *remainder,
        });
    }
    let act = |kind: ActionKind, reason: String| action(table, kind, reason);
    let naming = HashNaming::of(policy, table, &hashed)?;
    let name_for = |m: u32, r: u32| naming.name(table, m, r);
    if hashed.is_empty() {
        return (0..n)
            .map(|r| {
                Ok(act(
                    ActionKind::CreateHash {
                        partition: name_for(n, r)?,
                        modulus: n,
                        remainder: r,
                    },
                    format!("modulus = {n}: remainder {r} has no partition"),
                ))
            })
            .collect();
    }
    let largest = hashed.iter().map(|h| h.1).max().unwrap_or(n);
    if largest > n {
        return Ok(vec![act(
            ActionKind::ShrinkHash {
                partition: table.name.clone(),
                from: largest,
                to: n,
            },
            format!("modulus = {n}: the table has modulus {largest}; shrink"),
        )]);
    }
    if let Some((p, m, _)) = hashed.iter().find(|h| n % h.1 != 0) {
        return Err(FitError::ModulusNotDivisor {
            partition: p.name.clone(),
            modulus: *m,
            target: n,
        });
    }
    let mut splits = Vec::new();
    for (p, m, r) in hashed.iter().filter(|h| h.1 < n) {
        let new = (0..n / m)
            .map(|k| {
                let rr = r + k * m;
                name_for(n, rr).map(|q| (q, rr))
            })
            .collect::<Result<Vec<_>, _>>()?;
        splits.push(HashSplit {
            old: p.name.clone(),
            old_modulus: *m,
            old_remainder: *r,
            modulus: n,
            new,
        });
    }
    let mut actions = Vec::new();
    let smallest = hashed.iter().map(|h| h.1).min().unwrap_or(n);
    if !splits.is_empty() {
        actions.push(act(
            ActionKind::GrowHash {
                partition: table.name.clone(),
                from: smallest,
                to: n,
                splits: splits.clone(),
            },
            format!("modulus = {n}: grow from {smallest}, rows kept and counted"),
        ));
    }
    // Remainders no partition covers (after the splits).
    for r in 0..n {
        let covered = hashed.iter().any(|(_, m, q)| r % m == *q);
        if !covered {
            actions.push(act(
                ActionKind::CreateHash {
                    partition: name_for(n, r)?,
                    modulus: n,
                    remainder: r,
                },
                format!("modulus = {n}: remainder {r} has no partition"),
            ));
        }
    }
    Ok(actions)
}
