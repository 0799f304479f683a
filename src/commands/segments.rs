use cobro_analytics::SnapshotSession;
use cobro_domain::AsOf;

use super::{Ctx, Opened};
use crate::cli::{Format, SegmentsDiffArgs};
use crate::{Done, output};

/// `cobro segments`: every customer with its segment and reasons.
pub async fn list(ctx: &Ctx, as_of: Option<AsOf>, format: Format) -> anyhow::Result<Done> {
    let Opened { snap, manifest, session } = ctx.open(as_of).await?;
    let query = if format == Format::Table {
        out!(
            "Segments as of {} (snapshot v{}), rules: {}",
            manifest.as_of,
            snap.version,
            session.params().rules.source
        )?;
        "SELECT customer_id, name, segment, overlays, effective_segment, reasons FROM segments ORDER BY customer_id"
    } else {
        "SELECT * FROM segments ORDER BY customer_id"
    };
    output::query(&session, query, format).await?;
    if format == Format::Table {
        mix(&session).await?;
    }
    Ok(Done::Clean)
}

/// Prints how many customers are in each effective segment.
async fn mix(session: &SnapshotSession) -> anyhow::Result<()> {
    out!("Mix:")?;
    output::query(
        session,
        "SELECT effective_segment, COUNT(*) AS customers, CAST(SUM(open_balance_rc) AS DECIMAL(20, 2)) AS open_balance_rc \
         FROM segments GROUP BY effective_segment ORDER BY customers DESC, effective_segment",
        Format::Table,
    )
    .await
}

/// `cobro segments diff`: customers whose segment changed between two snapshots.
pub async fn diff(ctx: &Ctx, args: SegmentsDiffArgs) -> anyhow::Result<Done> {
    if args.from >= args.to {
        anyhow::bail!("--from {} must be before --to {}", args.from, args.to);
    }
    let before = ctx.open(Some(args.from)).await?;
    let df =
        before.session.sql("SELECT customer_id, segment, overlays, effective_segment, reasons FROM segments").await?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await?;
    let Opened { mut session, .. } = ctx.open(Some(args.to)).await?;
    session.register_batches("segments_before", schema, batches)?;
    if args.format == Format::Table {
        out!("Segment changes from {} to {}", args.from, args.to)?;
    }
    output::query(
        &session,
        "SELECT COALESCE(n.customer_id, o.customer_id) AS customer_id, \
                COALESCE(o.effective_segment, '(none)') AS from_segment, \
                COALESCE(n.effective_segment, '(none)') AS to_segment, \
                COALESCE(o.segment, '') AS from_base, COALESCE(n.segment, '') AS to_base, \
                COALESCE(o.overlays, '') AS from_overlays, COALESCE(n.overlays, '') AS to_overlays, \
                COALESCE(n.reasons, 'no longer a customer') AS reasons \
         FROM segments n FULL OUTER JOIN segments_before o ON o.customer_id = n.customer_id \
         WHERE o.customer_id IS NULL OR n.customer_id IS NULL \
            OR o.segment <> n.segment OR o.overlays <> n.overlays \
         ORDER BY 1",
        args.format,
    )
    .await?;
    Ok(Done::Clean)
}
