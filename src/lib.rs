//! hsgate: a credential-injecting gateway for the HostedSuite call-center API.
//!
//! Modules follow a request's path: `server` accepts it, `gateway` runs the
//! stages — `routes`, `auth`, `grants`, `body`, `inject`, `audit`,
//! `upstream`, `relay` — and `error` maps every failure to its answer.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod batch;
pub mod body;
pub mod breaker;
pub mod commands;
pub mod config;
pub mod demo;
pub mod dns;
pub mod error;
pub mod explain;
pub mod gateway;
pub mod grants;
pub mod hexstr;
pub mod inject;
pub mod jsonstr;
pub mod logging;
pub mod metrics;
pub mod ratelimit;
pub mod relay;
pub mod reload;
pub mod routes;
pub mod server;
pub mod sim;
pub mod state;
pub mod tls_client;
pub mod token;
pub mod upstream;
pub mod watch;
