//! Groups, tags and proxies: `accounts group`, `accounts tag`, `groups list`, `proxy set`,
//! `proxy clear`, `proxy test`, and the `--group` / `--tag` filters that list and bulk
//! commands share.
//!
//! A proxy URL may hold a password. Given on the command line it is visible to other users
//! of the machine (`ps`) for as long as the command runs; `--url-stdin` reads it from
//! standard input instead. Either way the password goes to the keyring only, and nothing
//! printed holds it.

use clap::{Args, Subcommand};
use mailwatch_engine::account::{Account, AccountFilter};
use mailwatch_engine::engine::ProxyTarget;
use mailwatch_engine::{Engine, EngineError};
use serde_json::json;

/// `--group G --tag T...`: which accounts a list or a bulk command applies to.
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only accounts in this group.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Only accounts with this tag (repeat for several: all must be there).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

impl FilterArgs {
    /// The engine's filter.
    pub fn filter(&self) -> AccountFilter {
        AccountFilter { group: self.group.clone(), tags: self.tags.clone() }
    }

    /// Whether a filter was given.
    pub fn is_set(&self) -> bool {
        !self.filter().is_empty()
    }

    /// The accounts a bulk command works on: those named (narrowed by the filter, if one is
    /// given), every account passing the filter when none is named, or every account with
    /// `all`. `None` when nothing selects any: the caller says what to name.
    ///
    /// # Errors
    /// The cache cannot be read.
    pub async fn select(
        &self,
        engine: &Engine,
        named: &[String],
        all: bool,
        keep: impl Fn(&Account) -> bool,
    ) -> Result<Option<Vec<String>>, EngineError> {
        if named.is_empty() && !all && !self.is_set() {
            return Ok(None);
        }
        let accounts = engine.accounts_matching(&self.filter()).await?;
        if named.is_empty() {
            return Ok(Some(accounts.into_iter().filter(|a| keep(a)).map(|a| a.email).collect()));
        }
        if !self.is_set() {
            return Ok(Some(named.to_vec()));
        }
        let named: Vec<String> = named.iter().map(|e| e.trim().to_lowercase()).collect();
        Ok(Some(accounts.into_iter().map(|a| a.email).filter(|e| named.contains(e)).collect()))
    }
}

/// `groups ...`
#[derive(Subcommand, Debug)]
pub enum GroupsCmd {
    /// List groups with their proxy (no password) and how many accounts each has.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `accounts group GROUP EMAIL...`
#[derive(Args, Debug)]
pub struct GroupArgs {
    /// The group to put the accounts in (omit with --none).
    #[arg(required_unless_present = "none")]
    group: Option<String>,
    /// The accounts (or select them with --all, --in-group, --with-tag).
    emails: Vec<String>,
    /// Take the accounts out of their group.
    #[arg(long, conflicts_with = "group")]
    none: bool,
    /// Every account.
    #[arg(long)]
    all: bool,
    /// Only accounts now in this group.
    #[arg(long, value_name = "GROUP")]
    in_group: Option<String>,
    /// Only accounts with this tag.
    #[arg(long = "with-tag", value_name = "TAG")]
    with_tags: Vec<String>,
}

/// `accounts tag EMAIL... --add T --remove T`
#[derive(Args, Debug)]
pub struct TagArgs {
    /// The accounts (or select them with --all, --group, --tag).
    emails: Vec<String>,
    /// Tags to add (repeat for several).
    #[arg(long, value_name = "TAG")]
    add: Vec<String>,
    /// Tags to remove (repeat for several).
    #[arg(long, value_name = "TAG")]
    remove: Vec<String>,
    /// Every account.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    filter: FilterArgs,
}

/// `proxy ...`
#[derive(Subcommand, Debug)]
pub enum ProxyCmd {
    /// Give accounts their own proxy, or a group its proxy. The URL: socks5://, socks5h://
    /// or http://, with user:password@ when the proxy needs them; `{email}` or `{session}` in
    /// the user name are filled in per account.
    Set(SetProxyArgs),
    /// Remove the accounts' own proxy (their group's applies again) or the group's.
    Clear(ClearProxyArgs),
    /// Connect through a proxy: time to connect, and the exit IP from `proxy.echoUrl`.
    Test(TestProxyArgs),
}

/// `proxy set [URL] (--account E... | --group G | --tag T ...)`
#[derive(Args, Debug)]
pub struct SetProxyArgs {
    /// The proxy URL (or --url-stdin).
    #[arg(required_unless_present = "url_stdin")]
    url: Option<String>,
    /// Read the URL from standard input, so its password stays out of the process list.
    #[arg(long)]
    url_stdin: bool,
    /// Accounts that get this proxy as their own (repeat for several).
    #[arg(long = "account", value_name = "EMAIL")]
    accounts: Vec<String>,
    /// The group whose proxy this is (its accounts use it unless they have their own).
    #[arg(long, value_name = "GROUP", conflicts_with_all = ["accounts", "tags", "in_group"])]
    group: Option<String>,
    /// Give it as their own to accounts in this group.
    #[arg(long, value_name = "GROUP")]
    in_group: Option<String>,
    /// Give it as their own to accounts with this tag.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `proxy clear (--account E... | --group G)`
#[derive(Args, Debug)]
pub struct ClearProxyArgs {
    /// Accounts whose own proxy goes.
    #[arg(long = "account", value_name = "EMAIL")]
    accounts: Vec<String>,
    /// The group whose proxy goes.
    #[arg(long, value_name = "GROUP", conflicts_with = "accounts")]
    group: Option<String>,
}

/// `proxy test [--account E | --group G | URL]`
#[derive(Args, Debug)]
pub struct TestProxyArgs {
    /// A proxy URL to test (its password, if any, is used and not stored).
    #[arg(conflicts_with_all = ["account", "group"], required_unless_present_any = ["account", "group", "url_stdin"])]
    url: Option<String>,
    /// Read the URL from standard input.
    #[arg(long)]
    url_stdin: bool,
    /// Test the proxy this account uses.
    #[arg(long, value_name = "EMAIL", conflicts_with = "group")]
    account: Option<String>,
    /// Test this group's proxy.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl ProxyCmd {
    /// Whether the output is JSON.
    pub fn json(&self) -> bool {
        match self {
            ProxyCmd::Set(a) => a.json,
            ProxyCmd::Test(a) => a.json,
            ProxyCmd::Clear(_) => false,
        }
    }
}

fn invalid(message: &str) -> EngineError {
    EngineError::InvalidInput(message.to_string())
}

fn url_from(arg: &Option<String>, stdin: bool) -> Result<String, EngineError> {
    match (arg, stdin) {
        (_, true) => Ok(crate::read_secret_from_stdin("proxy URL")?.expose().to_string()),
        (Some(u), false) => Ok(u.clone()),
        (None, false) => Err(invalid("give the proxy URL, or --url-stdin")),
    }
}

/// Runs `accounts group`.
pub async fn group(engine: &Engine, a: &GroupArgs) -> Result<(), EngineError> {
    let filter = FilterArgs { group: a.in_group.clone(), tags: a.with_tags.clone() };
    let emails = filter
        .select(engine, &a.emails, a.all, |_| true)
        .await?
        .ok_or_else(|| invalid("name the accounts, or select them with --all, --in-group or --with-tag"))?;
    let group = if a.none { None } else { a.group.as_deref() };
    let n = engine.set_group(&emails, group).await?;
    match group {
        Some(g) => println!("{n} account(s) now in group {g}"),
        None => println!("{n} account(s) now in no group"),
    }
    Ok(())
}

/// Runs `accounts tag`.
pub async fn tag(engine: &Engine, a: &TagArgs) -> Result<(), EngineError> {
    if a.add.is_empty() && a.remove.is_empty() {
        return Err(invalid("say which tags to --add or --remove"));
    }
    let emails = a
        .filter
        .select(engine, &a.emails, a.all, |_| true)
        .await?
        .ok_or_else(|| invalid("name the accounts, or select them with --all, --group or --tag"))?;
    let n = engine.tag_accounts(&emails, &a.add, &a.remove).await?;
    println!("tags changed on {n} account(s)");
    Ok(())
}

/// Runs `groups ...`.
pub async fn groups(engine: &Engine, cmd: &GroupsCmd) -> Result<(), EngineError> {
    let GroupsCmd::List { json } = cmd;
    let groups = engine.groups().await?;
    if *json {
        crate::print_json(&groups);
    } else if groups.is_empty() {
        println!("No groups yet. Put accounts in one with `mailwatch-cli accounts group NAME EMAIL...`.");
    } else {
        for g in groups {
            println!("{:<24} {:>6} account(s)  {}", g.name, g.accounts, g.proxy.as_deref().unwrap_or("direct"));
        }
    }
    Ok(())
}

/// Runs `proxy ...`.
pub async fn proxy(engine: &Engine, cmd: &ProxyCmd) -> Result<(), EngineError> {
    match cmd {
        ProxyCmd::Set(a) => {
            let url = url_from(&a.url, a.url_stdin)?;
            if let Some(group) = &a.group {
                engine.set_group_proxy(group, Some(&url)).await?;
                let shown = mailwatch_engine::net::ProxyUrl::parse(&url)?.0.to_string();
                if a.json {
                    crate::print_json(&json!({"group": group, "proxy": shown}));
                } else {
                    println!("group {group} now connects through {shown}");
                }
                return Ok(());
            }
            let filter = FilterArgs { group: a.in_group.clone(), tags: a.tags.clone() };
            let emails = filter.select(engine, &a.accounts, false, |_| true).await?.ok_or_else(|| {
                invalid("say whose proxy this is: --account EMAIL, --group GROUP, --in-group or --tag")
            })?;
            let n = engine.set_account_proxy(&emails, Some(&url)).await?;
            let shown = mailwatch_engine::net::ProxyUrl::parse(&url)?.0.to_string();
            if a.json {
                crate::print_json(&json!({"accounts": n, "proxy": shown}));
            } else {
                println!("{n} account(s) now connect through {shown}");
            }
        }
        ProxyCmd::Clear(a) => {
            if let Some(group) = &a.group {
                engine.set_group_proxy(group, None).await?;
                println!("group {group} now connects directly (accounts with their own proxy keep it)");
            } else if a.accounts.is_empty() {
                return Err(invalid("say whose proxy goes: --account EMAIL or --group GROUP"));
            } else {
                let n = engine.set_account_proxy(&a.accounts, None).await?;
                println!("{n} account(s) have no proxy of their own now (their group's applies, if any)");
            }
        }
        ProxyCmd::Test(a) => {
            let target = match (&a.account, &a.group) {
                (Some(e), _) => ProxyTarget::Account(e.clone()),
                (None, Some(g)) => ProxyTarget::Group(g.clone()),
                (None, None) => ProxyTarget::Url(url_from(&a.url, a.url_stdin)?),
            };
            let report = engine.test_proxy(&target).await?;
            if a.json {
                crate::print_json(&report);
            } else {
                let ip = match (&report.exit_ip, &report.note) {
                    (Some(ip), _) => format!("exit IP {ip}"),
                    (None, Some(why)) => format!("exit IP unknown: {why}"),
                    (None, None) => "exit IP unknown".into(),
                };
                println!("{}: connected to {} in {:.1} ms; {ip}", report.proxy, report.target, report.connect_ms);
            }
        }
    }
    Ok(())
}
