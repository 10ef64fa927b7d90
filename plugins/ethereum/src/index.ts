// chainvault's Ethereum plugin (Geth, Quorum, Besu). For now: the decoding and chain checks its backups will rest on.
export * from './chain-decode.errors';
export { keccak256 } from './keccak';
export { decode as decodeRlp, decodeStream as decodeRlpStream, encode as encodeRlp, type RlpItem, type RlpStreamEntry } from './rlp';
export * from './block';
export * from './rlp-file';
