//! `status` and `transfers`: a delivery until its files settle, and what this computer has under
//! way or stopped.

use super::*;

/// `transfers`: what this computer has under way or stopped, with the hub's offsets.
pub async fn transfers(as_json: bool) -> anyhow::Result<()> {
    let journal = load_journal();
    let client = client().ok();
    let mut rows = Vec::new();
    for transfer in journal.entries.values() {
        let mut sent = None;
        let mut problem = transfer.error.clone();
        if let Some(client) = client.as_ref().filter(|_| transfer.package.is_some() || !transfer.parts.is_empty()) {
            // A package travels in streams, a big file in pieces, which the hub counts for it: its
            // delivery says how far.
            match client.delivery(transfer.delivery).await {
                Ok(view) => sent = view.files.iter().find(|f| f.name == transfer.name).map(|f| f.offset as u64),
                Err(e) => problem = problem.or_else(|| Some(e.to_string())),
            }
        } else if let Some(client) = &client {
            match client.upload_offset(&transfer.upload).await {
                Ok(found) => sent = Some(found.offset),
                Err(e) => problem = problem.or_else(|| Some(e.to_string())),
            }
        }
        rows.push(json!({
            "delivery": transfer.delivery, "name": transfer.name, "path": transfer.path, "size": transfer.size,
            "sent": sent, "parts": transfer.parts.len().max(1), "started_ms": transfer.started_ms, "error": problem,
        }));
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no transfers under way or stopped");
        return Ok(());
    }
    println!("{:>8}  {:>7}  {:>21}  {:<5}  name", "delivery", "done", "bytes", "parts");
    for row in &rows {
        let size = row["size"].as_u64().unwrap_or(0);
        let sent = row["sent"].as_u64();
        let done = sent.map_or("?".to_owned(), |s| format!("{:.1}%", 100.0 * s as f64 / size.max(1) as f64));
        let bytes = format!("{}/{size}", sent.map_or("?".to_owned(), |s| s.to_string()));
        println!(
            "{:>8}  {done:>7}  {bytes:>21}  {:<5}  {}",
            row["delivery"],
            row["parts"],
            row["name"].as_str().unwrap_or("?")
        );
        if let Some(error) = row["error"].as_str() {
            println!("{:>8}  stopped: {error}", "");
        }
    }
    println!("\nrun the same `contenthub upload` (or `deliver`) command again to resume");
    Ok(())
}

/// Polls the delivery until no file is in flight or being validated.
pub(super) async fn wait(client: &Client, id: i64) -> anyhow::Result<DeliveryView> {
    loop {
        let delivery = retry(|| client.delivery(id)).await.map_err(explain)?;
        let settled = delivery
            .files
            .iter()
            .all(|f| matches!(f.state, AssetState::Valid | AssetState::Invalid | AssetState::FailedDelivery));
        if settled {
            return Ok(delivery);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub(super) async fn print_delivery(client: &Client, delivery: &DeliveryView) {
    println!("delivery {} is {}", delivery.delivery.id, delivery.delivery.state.as_str());
    for f in &delivery.files {
        println!("  {:12} {}", f.state.as_str(), f.name);
        if f.state == AssetState::Invalid
            && let Ok(report) = client.validation(f.asset_id).await
        {
            for check in report.iter().filter(|c| !c.passed) {
                println!("      {}: {}", check.check, check.detail);
            }
        }
    }
}

pub async fn status(id: i64, watch: bool, as_json: bool) -> anyhow::Result<()> {
    let client = client()?;
    let delivery = match client.delivery(id).await {
        Ok(_) if watch => wait(&client, id).await?,
        Ok(delivery) => delivery,
        Err(e) => return Err(missing(&client, e, &format!("delivery {id}")).await),
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&delivery)?);
    } else {
        print_delivery(&client, &delivery).await;
    }
    Ok(())
}
