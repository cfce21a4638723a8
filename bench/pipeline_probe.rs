//! What pipelining would buy `apply` (issue 11): replays the steps of a plan (`plan -f json`)
//! over one connection, each step in BEGIN/COMMIT, either one statement per round trip
//! (`serial`, what partctl does) or each step's statements pipelined (`pipelined`: every
//! statement still its own Parse/Bind/Execute/Sync, all sent before the first answer is read).
//! Not partctl: a measurement of the protocol, for BENCHMARKS.md.
//!
//! `cargo run --release --example pipeline_probe -- URL PLAN.json serial|pipelined`

use futures_util::future::try_join_all;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, plan, mode] = args.as_slice() else {
        return Err(
            "usage: pipeline_probe URL PLAN.json serial|pipelined|pipelined-commit-apart".into(),
        );
    };
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(plan)?)?;
    let steps: Vec<Vec<String>> = doc["steps"]
        .as_array()
        .ok_or("no steps in the plan")?
        .iter()
        .map(|s| {
            let mut stmts = vec!["BEGIN".to_string()];
            for q in s["sql"].as_array().into_iter().flatten() {
                let q = q.as_str().unwrap_or_default().trim_end();
                stmts.push(q.trim_end_matches(';').to_string());
            }
            stmts.push("COMMIT".to_string());
            stmts
        })
        .collect();
    let (pipelined, commit_apart) = match mode.as_str() {
        "pipelined" => (true, false),
        "pipelined-commit-apart" => (true, true),
        "serial" => (false, false),
        other => {
            return Err(
                format!("mode `{other}`: serial, pipelined or pipelined-commit-apart").into(),
            )
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        let conn = tokio::spawn(conn);
        for stmts in &steps {
            if pipelined && commit_apart {
                let (commit, rest) = stmts.split_last().expect("BEGIN and COMMIT at least");
                try_join_all(rest.iter().map(|s| client.query_typed(s, &[]))).await?;
                client.query_typed(commit, &[]).await?;
            } else if pipelined {
                try_join_all(stmts.iter().map(|s| client.query_typed(s, &[]))).await?;
            } else {
                for s in stmts {
                    client.query_typed(s, &[]).await?;
                }
            }
        }
        drop(client);
        let _ = conn.await;
        Ok::<(), tokio_postgres::Error>(())
    })?;
    Ok(())
}
