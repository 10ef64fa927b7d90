// How hashes and numbers are written in messages, metadata and JSON-RPC calls: 0x-prefixed hex.

export const hex = (bytes: Uint8Array): string => `0x${Buffer.from(bytes).toString('hex')}`;

/** A block number as a JSON-RPC QUANTITY. */
export const toHex = (n: number): string => `0x${n.toString(16)}`;
