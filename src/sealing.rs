//! Sealed copies of client and API-token secrets, for Show (SPEC §7).
//!
//! A secret is sealed with XChaCha20-Poly1305 under a key that lives in a file
//! outside the database (`TESSERA_SECRET_KEY_FILE`), so a copy of the database
//! alone (a dump, the SQLite file, a backup) opens nothing. Every sealed value
//! names the key it was sealed with (a 4-byte key id), so `tessera rotate-key`
//! can re-seal everything under a new key while instances that still hold the
//! old one keep working: an instance that meets an unknown key id reads the
//! file again. The token's SHA-256 is the associated data: a sealed value moved
//! to another row does not open.
//!
//! Layout of a sealed value: `1` (format), key id (4 bytes), nonce (24 bytes),
//! ciphertext with its 16-byte tag.
//!
//! The key file holds one key per line, `<key id, 8 hex digits> <key, base64>`,
//! the first line being the key new values are sealed with; `#` starts a comment.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const FORMAT: u8 = 1;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// One key of the file.
struct Key {
    id: [u8; KEY_ID_LEN],
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn generate() -> (Self, String) {
        let id: [u8; KEY_ID_LEN] = rand::random();
        let bytes: [u8; 32] = rand::random();
        let line = format!("{} {}", hex(&id), BASE64.encode(bytes));
        (
            Key {
                id,
                cipher: XChaCha20Poly1305::new(&bytes.into()),
            },
            line,
        )
    }

    fn parse(line: &str) -> anyhow::Result<Self> {
        let mut words = line.split_whitespace();
        let (Some(id), Some(key), None) = (words.next(), words.next(), words.next()) else {
            bail!("a key line is `<key id> <key>`");
        };
        let id = unhex_id(id).context("the key id is not 8 hex digits")?;
        let bytes: [u8; 32] = BASE64
            .decode(key)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .context("the key is not 32 bytes in base64")?;
        Ok(Key {
            id,
            cipher: XChaCha20Poly1305::new(&bytes.into()),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn unhex_id(text: &str) -> Option<[u8; KEY_ID_LEN]> {
    if text.len() != 2 * KEY_ID_LEN || !text.is_ascii() {
        return None;
    }
    let mut id = [0; KEY_ID_LEN];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(id)
}

/// The keys of one reading of the key file, the first sealing new values.
struct Keyring {
    keys: Vec<Key>,
    /// Which version of the file was read (a rotation replaces it).
    modified: Option<(SystemTime, u64)>,
}

impl Keyring {
    fn parse(text: &str) -> anyhow::Result<Self> {
        let keys = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default().trim())
            .filter(|line| !line.is_empty())
            .enumerate()
            .map(|(n, line)| Key::parse(line).with_context(|| format!("key line {}", n + 1)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if keys.is_empty() {
            bail!("the key file holds no key");
        }
        Ok(Keyring {
            keys,
            modified: None,
        })
    }

    fn read(path: &Path) -> anyhow::Result<Self> {
        let modified = modified(path);
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the secret key file {}", path.display()))?;
        let ring = Self::parse(&text)
            .with_context(|| format!("the secret key file {}", path.display()))?;
        Ok(Keyring { modified, ..ring })
    }

    fn current(&self) -> &Key {
        &self.keys[0]
    }

    fn find(&self, id: &[u8]) -> Option<&Key> {
        self.keys.iter().find(|key| key.id == id)
    }
}

/// Why a sealed value did not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("no secret key file is configured")]
    NoKey,
    #[error("the value was sealed with a key that is not in the key file")]
    UnknownKey,
    #[error("the sealed value does not open with its key (altered, or moved)")]
    Corrupt,
}

/// Seals and opens secrets with the keys of `TESSERA_SECRET_KEY_FILE`; without a
/// file, nothing is sealed and Show is unavailable.
pub struct Sealer {
    path: Option<PathBuf>,
    ring: RwLock<Option<Keyring>>,
}

impl Sealer {
    /// No key: nothing is sealed.
    pub fn none() -> Self {
        Sealer {
            path: None,
            ring: RwLock::new(None),
        }
    }

    /// The keys of the file at `path`, which is created (mode 0600, one new key)
    /// if it does not exist.
    pub fn open_or_create(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            let (_, line) = Key::generate();
            write_new(path, &format!("{}{line}\n", file_header()))?;
            tracing::info!(path = %path.display(), "created the secret key file");
        }
        let ring = Keyring::read(path)?;
        warn_if_readable_by_others(path);
        Ok(Sealer {
            path: Some(path.to_owned()),
            ring: RwLock::new(Some(ring)),
        })
    }

    /// Whether a key is configured (Show can work).
    pub fn is_configured(&self) -> bool {
        self.path.is_some()
    }

    /// The sealed copy of `secret`, bound to `sha256` (the token's hash); `None`
    /// without a key. A key file changed since it was read (a rotation) is read
    /// again first, so that new copies are sealed with the new key.
    pub fn seal(&self, secret: &str, sha256: &[u8]) -> Option<Vec<u8>> {
        let path = self.path.as_deref()?;
        let stale = {
            let ring = self
                .ring
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            ring.as_ref()
                .is_none_or(|ring| ring.modified != modified(path))
        };
        if stale {
            match Keyring::read(path) {
                Ok(fresh) => {
                    *self
                        .ring
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fresh);
                }
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), "cannot read the secret key file again");
                }
            }
        }
        let ring = self
            .ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = ring.as_ref()?.current();
        Some(seal_with(key, secret, sha256))
    }

    /// The secret sealed in `sealed`, bound to `sha256`. A key id this instance
    /// does not know sends it to read the key file again (after a rotation).
    pub fn open(&self, sealed: &[u8], sha256: &[u8]) -> Result<String, OpenError> {
        if sealed.len() < HEADER_LEN || sealed[0] != FORMAT {
            return Err(OpenError::Corrupt);
        }
        let id = &sealed[1..=KEY_ID_LEN];
        {
            let ring = self
                .ring
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let ring = ring.as_ref().ok_or(OpenError::NoKey)?;
            if let Some(key) = ring.find(id) {
                return open_with(key, sealed, sha256);
            }
        }
        let path = self.path.as_deref().ok_or(OpenError::NoKey)?;
        let fresh = Keyring::read(path).map_err(|err| {
            tracing::error!(error = %format!("{err:#}"), "cannot read the secret key file again");
            OpenError::UnknownKey
        })?;
        let outcome = fresh
            .find(id)
            .ok_or(OpenError::UnknownKey)
            .and_then(|key| open_with(key, sealed, sha256));
        *self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fresh);
        outcome
    }
}

/// What tells one version of the key file from another: its change time and,
/// on Unix, its inode (a rotation renames a new file over it, and file times
/// are only as fine as the kernel's clock tick).
fn modified(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, inode))
}

fn seal_with(key: &Key, secret: &str, sha256: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let mut sealed = Vec::with_capacity(HEADER_LEN + secret.len() + 16);
    sealed.push(FORMAT);
    sealed.extend_from_slice(&key.id);
    sealed.extend_from_slice(&nonce);
    // Encryption with a 32-byte key and a 24-byte nonce cannot fail for a
    // message this short; an empty vector would only fail to open later.
    let ciphertext = key
        .cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret.as_bytes(),
                aad: sha256,
            },
        )
        .unwrap_or_default();
    sealed.extend_from_slice(&ciphertext);
    sealed
}

fn open_with(key: &Key, sealed: &[u8], sha256: &[u8]) -> Result<String, OpenError> {
    let nonce = &sealed[1 + KEY_ID_LEN..HEADER_LEN];
    let plain = key
        .cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: &sealed[HEADER_LEN..],
                aad: sha256,
            },
        )
        .map_err(|_| OpenError::Corrupt)?;
    String::from_utf8(plain).map_err(|_| OpenError::Corrupt)
}

fn file_header() -> &'static str {
    "# Tessera's secret key file: it opens the sealed copies of client and API\n\
     # token secrets (Show). Keep it out of backups of the database, mode 0600.\n\
     # The first key seals; `tessera rotate-key` replaces it.\n"
}

/// Creates `path` with `text`, readable by its owner only; refuses to replace a file.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create the secret key file {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Replaces `path` with `text` at once (a new file renamed over it), mode 0600.
fn replace(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".new");
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    write_new(&temporary, text)?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot replace the secret key file {}", path.display()))
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "the secret key file can be read by others than its owner: chmod 600 it"
            );
        }
    }
}

/// A rotation under way: the file already names the new key first (so every
/// instance can open what is re-sealed), the old ones after it.
pub struct Rotation {
    path: PathBuf,
    new: Key,
    new_line: String,
    old: Keyring,
}

impl Rotation {
    /// Adds a new key in front of the file at `path`.
    pub fn begin(path: &Path) -> anyhow::Result<Self> {
        let old = Keyring::read(path)?;
        let text = std::fs::read_to_string(path)?;
        let (new, new_line) = Key::generate();
        let kept = text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .fold(String::new(), |mut kept, line| {
                kept.push_str(line);
                kept.push('\n');
                kept
            });
        replace(path, &format!("{}{new_line}\n{kept}", file_header()))?;
        Ok(Rotation {
            path: path.to_owned(),
            new,
            new_line,
            old,
        })
    }

    /// `sealed` re-sealed under the new key.
    pub fn reseal(&self, sealed: &[u8], sha256: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < HEADER_LEN || sealed[0] != FORMAT {
            return Err(OpenError::Corrupt);
        }
        let id = &sealed[1..=KEY_ID_LEN];
        let key = if id == self.new.id {
            &self.new
        } else {
            self.old.find(id).ok_or(OpenError::UnknownKey)?
        };
        let secret = open_with(key, sealed, sha256)?;
        Ok(seal_with(&self.new, &secret, sha256))
    }

    /// Drops the old keys from the file, once nothing is sealed with them.
    pub fn finish(self) -> anyhow::Result<()> {
        replace(&self.path, &format!("{}{}\n", file_header(), self.new_line))
    }

    /// The new key's id, for the operator.
    pub fn new_key_id(&self) -> String {
        hex(&self.new.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer_at(dir: &Path) -> Sealer {
        Sealer::open_or_create(&dir.join("key")).unwrap()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tessera-sealing-{name}-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_sealed_secret_opens_with_its_hash_only() {
        let dir = temp_dir("roundtrip");
        let sealer = sealer_at(&dir);
        let sealed = sealer.seal("tsrc_secret", b"hash-one").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(sealer.open(&sealed, b"hash-one").unwrap(), "tsrc_secret");
        assert_eq!(sealer.open(&sealed, b"hash-two"), Err(OpenError::Corrupt));
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(sealer.open(&altered, b"hash-one"), Err(OpenError::Corrupt));
        assert_eq!(
            sealer.open(&sealed[..10], b"hash-one"),
            Err(OpenError::Corrupt)
        );
    }

    #[test]
    fn the_key_file_is_created_for_its_owner_only() {
        let dir = temp_dir("mode");
        let _ = sealer_at(&dir);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join("key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn another_key_does_not_open_it() {
        let (one, two) = (temp_dir("one"), temp_dir("two"));
        let sealed = sealer_at(&one).seal("tsrc_secret", b"h").unwrap();
        assert_eq!(
            sealer_at(&two).open(&sealed, b"h"),
            Err(OpenError::UnknownKey)
        );
        assert_eq!(Sealer::none().open(&sealed, b"h"), Err(OpenError::NoKey));
        assert!(Sealer::none().seal("x", b"h").is_none());
    }

    #[test]
    fn rotation_reseals_and_running_instances_follow() {
        let dir = temp_dir("rotate");
        let running = sealer_at(&dir);
        let sealed = running.seal("tsrc_secret", b"h").unwrap();
        let rotation = Rotation::begin(&dir.join("key")).unwrap();
        let resealed = rotation.reseal(&sealed, b"h").unwrap();
        assert_ne!(resealed[1..5], sealed[1..5]);
        rotation.finish().unwrap();
        // The running instance knew only the old key: it reads the file again.
        assert_eq!(running.open(&resealed, b"h").unwrap(), "tsrc_secret");
        // The old key is gone from the file.
        let fresh = sealer_at(&dir);
        assert_eq!(fresh.open(&sealed, b"h"), Err(OpenError::UnknownKey));
        assert_eq!(fresh.open(&resealed, b"h").unwrap(), "tsrc_secret");
    }

    #[test]
    fn after_a_rotation_new_copies_are_sealed_with_the_new_key() {
        let dir = temp_dir("follow");
        let running = sealer_at(&dir);
        let before = running.seal("a", b"h").unwrap();
        let rotation = Rotation::begin(&dir.join("key")).unwrap();
        let after = running.seal("b", b"h").unwrap();
        assert_ne!(before[1..5], after[1..5]);
        assert_eq!(hex(&after[1..5]), rotation.new_key_id());
    }

    #[test]
    fn a_bad_key_file_is_refused_with_a_reason() {
        for text in ["", "# only a comment\n", "zz 1234\n", "0011aabb c2hvcnQ=\n"] {
            assert!(Keyring::parse(text).is_err(), "{text:?}");
        }
    }
}
