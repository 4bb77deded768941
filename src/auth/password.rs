//! argon2id password hashing. New hashes use the configured cost; verification
//! reads the cost from the stored hash, so raising the cost needs no migration.
//!
//! Hashing runs on a few threads of its own (half the cores, at least one), never
//! more at once: a burst of sign-ins then queues for the hashers instead of
//! taking every core from the requests that need no hash (token checks), and
//! they run at a lower scheduling priority (nice 10, on Linux), so that when the
//! cores are busy a token check is scheduled before the next block of a hash:
//! a sign-in is already tens of milliseconds of work, a token check is tens of
//! microseconds whose p99 the scheduler otherwise decides. Each
//! thread keeps one argon2 working area (19 MiB at the default cost) for good,
//! rather than allocating one per hash: per-hash allocations of that size end up
//! scattered over the allocator's per-thread arenas and held there, which is how
//! a burst of sign-ins would otherwise cost hundreds of megabytes.

use std::sync::mpsc::{Receiver, Sender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::domain::account::Password;

/// Work for a hashing thread, given that thread's argon2 working area.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// A hash of a random password, verified against when the username is unknown
    /// so that an unknown user costs as much time as a wrong password.
    dummy_hash: Arc<str>,
    /// The hashing threads' queue; they stop when the last clone is dropped.
    jobs: Sender<Job>,
}

impl Hasher {
    pub fn new(memory_kib: u32, iterations: u32) -> anyhow::Result<Self> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        if memory_kib < 19456 || iterations < 2 {
            tracing::warn!(
                memory_kib,
                iterations,
                "argon2 cost is below the OWASP minimum (19456 KiB, 2 iterations): use only for tests"
            );
        }
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let threads = std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || run_jobs(&queue))?;
        }
        let mut hasher = Self {
            params,
            dummy_hash: Arc::from(""),
            jobs,
        };
        hasher.dummy_hash = hasher
            .hash(&Password::new(crate::auth::random_urlsafe(16)))?
            .into();
        Ok(hasher)
    }

    /// Runs `work` on a hashing thread and waits for its answer. The threads
    /// live as long as any clone of `self`, so there is always one to answer,
    /// unless a job panicked on every one of them: then `None`.
    fn on_hasher<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Option<T> {
        let (answer, answered) = sync_channel(1);
        let job: Job = Box::new(move |memory| {
            let _ = answer.send(work(memory));
        });
        let answer = self.jobs.send(job).ok().and_then(|()| answered.recv().ok());
        if answer.is_none() {
            tracing::error!("a password-hashing job got no answer: its thread has stopped");
        }
        answer
    }

    /// A PHC-format argon2id hash with a fresh random salt.
    pub fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let password = password.clone();
        let params = self.params.clone();
        self.on_hasher(move |memory| {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            let output = compute(&argon2, memory, password.expose(), salt.as_salt(), None)?;
            let phc = PasswordHash {
                algorithm: argon2::ARGON2ID_IDENT,
                version: Some(Version::V0x13.into()),
                params: (&params).try_into()?,
                salt: Some(salt.as_salt()),
                hash: Some(output),
            };
            Ok(phc.to_string())
        })
        .ok_or_else(|| anyhow::anyhow!("cannot hash a password: no hashing thread answered"))?
        .map_err(|e: argon2::password_hash::Error| anyhow::anyhow!("cannot hash a password: {e}"))
    }

    /// Whether `password` matches `stored` (a PHC string). A malformed stored hash
    /// is a mismatch, not an error the caller could leak. Every call counts in
    /// `tessera_password_verifications_total`, the dummy ones included.
    pub fn verify(&self, password: &Password, stored: &str) -> bool {
        crate::metrics::observe_password_verification();
        let (password, stored) = (password.clone(), stored.to_owned());
        self.on_hasher(move |memory| {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return false;
            };
            let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                return false;
            };
            let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
                return false;
            };
            let version = match parsed.version.map(Version::try_from).transpose() {
                Ok(version) => version.unwrap_or_default(),
                Err(_) => return false,
            };
            let Ok(params) = Params::try_from(&parsed) else {
                return false;
            };
            let argon2 = Argon2::new(algorithm, version, params);
            // `Output` compares in constant time.
            compute(
                &argon2,
                memory,
                password.expose(),
                salt,
                Some(expected.len()),
            )
            .is_ok_and(|computed| computed == expected)
        })
        // No answer is no match: nobody signs in on a failure.
        .unwrap_or(false)
    }

    /// Spends the time a real verification would, for unknown usernames.
    pub fn verify_dummy(&self, password: &Password) {
        let _ = self.verify(password, &self.dummy_hash);
    }
}

/// The argon2 output for `password` and `salt` in the thread's working area,
/// which grows (once) if these parameters need more.
fn compute(
    argon2: &Argon2<'_>,
    memory: &mut Vec<Block>,
    password: &str,
    salt: argon2::password_hash::Salt<'_>,
    output_len: Option<usize>,
) -> argon2::password_hash::Result<Output> {
    let blocks = argon2.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let len = output_len.unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    Output::init_with(len, |out| {
        argon2
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..])
            .map_err(Into::into)
    })
}

/// How much nicer than the request workers a hashing thread is.
#[cfg(target_os = "linux")]
const HASHING_NICENESS: i32 = 10;

/// Lowers the calling thread's priority (on Linux `setpriority` with no pid
/// applies to the calling thread alone). A failure only costs latency.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(err) = rustix::process::setpriority_process(None, HASHING_NICENESS) {
        tracing::debug!(error = %err, "cannot lower the priority of a hashing thread");
    }
}

/// A hashing thread: takes jobs until every `Hasher` clone is gone.
fn run_jobs(queue: &Mutex<Receiver<Job>>) {
    lower_priority();
    let mut memory = Vec::new();
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(&mut memory),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let hasher = Hasher::new(8, 1).unwrap();
        let hash = hasher.hash(&Password::new("correct horse".into())).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify(&Password::new("correct horse".into()), &hash));
        assert!(!hasher.verify(&Password::new("correct horsf".into()), &hash));
        assert!(!hasher.verify(&Password::new("x".into()), "not a hash"));
        // Hashes made elsewhere (other costs, the crate's own API) verify too.
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(16, 2, 1, None).unwrap(),
        )
        .hash_password(b"battery staple", &salt)
        .unwrap()
        .to_string();
        assert!(hasher.verify(&Password::new("battery staple".into()), &other));
        assert!(!hasher.verify(&Password::new("battery stapler".into()), &other));
    }
}
