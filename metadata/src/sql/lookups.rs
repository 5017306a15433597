//! Lookups (`druid_lookups`): one row per tier and lookup name, the factory JSON as text.

use super::{Arg, SqlRow, SqlTx};
use msq_engine::error::Result;
use msq_engine::metadata::lookup::{check_update, LookupRecord, UpdateAction};

const COLUMNS: &str = "tier, name, version, factory";

fn record(r: &SqlRow) -> Result<LookupRecord> {
    Ok(LookupRecord {
        tier: r.text(0)?,
        name: r.text(1)?,
        version: r.text(2)?,
        factory: r.json(3)?,
    })
}

/// Every lookup, by tier then name.
pub fn all(tx: &mut dyn SqlTx) -> Result<Vec<LookupRecord>> {
    tx.query_as(
        &format!("SELECT {COLUMNS} FROM druid_lookups ORDER BY tier, name"),
        &[],
        record,
    )
}

/// One lookup.
pub fn get(tx: &mut dyn SqlTx, tier: &str, name: &str) -> Result<Option<LookupRecord>> {
    tx.query_opt(
        &format!("SELECT {COLUMNS} FROM druid_lookups WHERE tier = ?1 AND name = ?2"),
        &[tier.into(), name.into()],
        record,
    )
}

/// [`msq_engine::metadata::MetadataStore::put_lookups`] inside a transaction.
pub fn put(tx: &mut dyn SqlTx, records: &[LookupRecord], replace: bool) -> Result<()> {
    let mut writes = Vec::new();
    for r in records {
        let action = if replace {
            UpdateAction::Write
        } else {
            check_update(get(tx, &r.tier, &r.name)?.as_ref(), r)?
        };
        if action == UpdateAction::Write {
            writes.push(r);
        }
    }
    for r in writes {
        let args: [Arg; 5] = [
            r.tier.as_str().into(),
            r.name.as_str().into(),
            r.version.as_str().into(),
            r.factory.to_string().into(),
            msq_engine::metadata::store::now_iso().into(),
        ];
        tx.exec(
            "INSERT INTO druid_lookups (tier, name, version, factory, updated_time) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (tier, name) DO UPDATE SET version = ?3, factory = ?4, updated_time = ?5",
            &args,
        )?;
    }
    Ok(())
}

/// Deletes one lookup, or every lookup of the tier.
pub fn delete(tx: &mut dyn SqlTx, tier: &str, name: Option<&str>) -> Result<usize> {
    match name {
        Some(n) => tx.exec(
            "DELETE FROM druid_lookups WHERE tier = ?1 AND name = ?2",
            &[tier.into(), n.into()],
        ),
        None => tx.exec("DELETE FROM druid_lookups WHERE tier = ?1", &[tier.into()]),
    }
}
