//! Name resolution for the upstream and JWKS clients: `getaddrinfo` on a
//! blocking thread at most once per host every [`TTL`], instead of once per
//! new connection. Under connection churn the uncached resolver put one
//! blocking thread (and its malloc arena) behind every new connection.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::client::legacy::connect::dns::Name;

/// How long a successful answer is reused (failures are not kept).
pub const TTL: Duration = Duration::from_secs(10);

/// When a host was resolved, and its addresses.
type Answer = (Instant, Arc<[SocketAddr]>);

/// A resolver that keeps each host's addresses for [`TTL`].
#[derive(Clone, Default)]
pub struct CachedResolver {
    answers: Arc<Mutex<HashMap<String, Answer>>>,
}

impl CachedResolver {
    fn cached(&self, host: &str, now: Instant) -> Option<Arc<[SocketAddr]>> {
        let answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        answers.get(host).filter(|(at, _)| now.duration_since(*at) < TTL).map(|(_, addrs)| addrs.clone())
    }

    fn keep(&self, host: String, addrs: Arc<[SocketAddr]>, now: Instant) {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        // Hosts are the few the config names; drop stale ones as new ones come.
        answers.retain(|_, (at, _)| now.duration_since(*at) < TTL);
        answers.insert(host, (now, addrs));
    }
}

type Resolving = Pin<Box<dyn Future<Output = io::Result<std::vec::IntoIter<SocketAddr>>> + Send>>;

impl tower_service::Service<Name> for CachedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let host = name.as_str();
            if let Some(addrs) = resolver.cached(host, Instant::now()) {
                return Ok(Vec::from(&addrs[..]).into_iter());
            }
            // Port 0: the connector sets the URL's port on each address.
            let addrs: Arc<[SocketAddr]> = tokio::net::lookup_host((host, 0)).await?.collect();
            if addrs.is_empty() {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address")));
            }
            let list = addrs.to_vec();
            resolver.keep(host.to_owned(), addrs, Instant::now());
            Ok(list.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use tower_service::Service;

    fn name(host: &str) -> Name {
        Name::from_str(host).unwrap()
    }

    #[tokio::test]
    async fn answers_are_kept_for_the_ttl_and_then_asked_again() {
        let mut resolver = CachedResolver::default();
        let first: Vec<SocketAddr> = resolver.call(name("localhost")).await.unwrap().collect();
        assert!(!first.is_empty() && first.iter().all(|a| a.ip().is_loopback() && a.port() == 0), "{first:?}");
        // A kept answer is served without asking the system again.
        let planted: Arc<[SocketAddr]> = Arc::from(vec![SocketAddr::from(([192, 0, 2, 7], 0))]);
        resolver.keep("localhost".into(), planted.clone(), Instant::now());
        let again: Vec<SocketAddr> = resolver.call(name("localhost")).await.unwrap().collect();
        assert_eq!(again, planted.to_vec());
        // One older than the TTL is not.
        let stale = Instant::now().checked_sub(TTL + Duration::from_secs(1)).unwrap();
        resolver.keep("localhost".into(), planted, stale);
        let fresh: Vec<SocketAddr> = resolver.call(name("localhost")).await.unwrap().collect();
        assert!(fresh.iter().all(|a| a.ip().is_loopback()), "{fresh:?}");
    }

    #[tokio::test]
    async fn a_failed_lookup_is_an_error_and_not_kept() {
        let mut resolver = CachedResolver::default();
        assert!(resolver.call(name("no-such-host.invalid")).await.is_err());
        assert!(resolver.cached("no-such-host.invalid", Instant::now()).is_none());
    }
}
