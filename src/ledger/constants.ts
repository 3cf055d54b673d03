// Ledger limits and domain tags. Each says where its value came from.

/**
 * Entries per epoch, i.e. per signed Merkle root. An inclusion proof then has at most
 * log2(1024) = 10 hashes (under 1 KiB), and a root is signed every ~1024 microbatches.
 */
export const ENTRIES_PER_EPOCH = 1024

/** prevHash of the first entry: 32 zero bytes, like a Bitcoin genesis block's parent. */
export const GENESIS_HASH = '0'.repeat(64)

/**
 * Signatures and hashes are over a tag + canonical JSON, so that bytes signed for one purpose
 * (a receipt) can never be replayed as another (an epoch root, a SIWE peerSignature).
 */
export const RECEIPT_TAG = 'tabgrad/receipt/1\n'
export const LEDGER_ENTRY_TAG = 'tabgrad/ledger-entry/1\n'
export const EPOCH_ROOT_TAG = 'tabgrad/epoch-root/1\n'

/** Receipts a ledger entry may carry: 2 directions × stages; 256 stages is far beyond any campaign. */
export const MAX_RECEIPTS_PER_ENTRY = 512

/** One ledger line is at most this long (receipts dominate: ~600 bytes each). */
export const MAX_ENTRY_BYTES = 1024 * 1024
