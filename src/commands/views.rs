use cobro_analytics::sql;

use super::{Ctx, Opened};
use crate::Done;
use crate::cli::ViewsArgs;

/// `cobro views`: the views of a snapshot, or one view's rendered SQL.
pub async fn run(ctx: &Ctx, args: ViewsArgs) -> anyhow::Result<Done> {
    let Opened { manifest, session, .. } = ctx.open(args.as_of).await?;
    let defined = |name: &str| session.tables().iter().any(|t| t == name);
    match args.name {
        Some(name) => {
            let is_view = |n: &str| defined(n) && !sql::DERIVED_TABLES.contains(&n);
            let Some((_, template, _)) = sql::VIEWS.iter().find(|(n, _, _)| *n == name && is_view(n)) else {
                let names: Vec<&str> = sql::VIEWS.iter().map(|(n, _, _)| *n).filter(|n| is_view(n)).collect();
                anyhow::bail!("`{name}` is not a view of this snapshot; the views are: {}", names.join(", "));
            };
            out!("-- {name}, rendered for the snapshot as of {}", manifest.as_of)?;
            out!("{}", session.params().render(template).trim_end())?;
        }
        None => {
            for (name, template, _) in sql::VIEWS {
                // A table the snapshot stores (open_items) is not a view here.
                if defined(name) && !sql::DERIVED_TABLES.contains(name) {
                    out!("{}", first_sentence(template))?;
                }
            }
        }
    }
    Ok(Done::Clean)
}

/// The first sentence of a view's header comment (which starts with the view's name), on one line.
fn first_sentence(template: &str) -> String {
    let comment: Vec<&str> =
        template.lines().map_while(|l| l.strip_prefix("--")).map(str::trim).take_while(|l| !l.is_empty()).collect();
    let text = comment.join(" ");
    match text.find(". ") {
        Some(end) => text[..=end].to_owned(),
        None => text,
    }
}
