//! Who may do what: bearer tokens that name an owner, signed download
//! links, and proofs of possession for instant upload. Pure logic over
//! keys, with no HTTP or storage in it.

mod proof;
mod rate;
mod signed_links;
mod token_keys;
mod tokens;

pub use proof::ProofKey;
pub use rate::OwnerRates;
pub use signed_links::{LinkRefusal, LinkSigner, SignedQuery};
pub use token_keys::{KeyError, load_keys};
pub use tokens::{TokenRefusal, TokenVerifier, VerifyingKey, issue_hs256};
