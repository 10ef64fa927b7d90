/**
 * chainvault's Ethereum plugin (Geth, Quorum, Besu). Method `chain-export` backs up a whole
 * network's chain online, as RLP block-range files exactly as `geth export` writes them, proven
 * against the chain block by block; restore writes the files back and can run the client's import.
 */
import { definePlugin, type JsonObject } from '@chainvault/plugin-sdk';
import { chainExport } from './chain-export';
import { chainRestore, checkChainRestoreTarget } from './chain-restore';
import { chainVerify } from './chain-verify';
import { chainExportOptionsSchema, checkNodeConfig, nodeConfigSchema, restoreOptionsSchema, restoreTargetSchema, type EthereumNodeConfig } from './config';

export * from './chain-decode.errors';
export { keccak256 } from './keccak';
export { decode as decodeRlp, decodeStream as decodeRlpStream, encode as encodeRlp, splitStream as splitRlpStream, type RlpItem, type RlpStreamEntry } from './rlp';
export * from './block';
export * from './block-body';
export * from './rlp-file';
export { orderedTrieRoot, EMPTY_TRIE_ROOT } from './trie';
export { blockFromJson, JsonBlockError } from './json-block';
export { segmentFileName, type ChainExportMetadata, type HistoryEntry } from './chain-export';
export type { EthereumNodeConfig, ChainExportOptions, ChainRestoreOptions, ChainRestoreTarget } from './config';

export default definePlugin<EthereumNodeConfig>({
  id: 'ethereum',
  protocols: ['geth', 'quorum', 'besu', 'ethereum'],
  description: 'Ethereum chains (Geth, GoQuorum, Besu): online chain-data export as RLP block ranges, no node halted.',
  roles: ['monitor', 'validator'],
  nodeConfigSchema,
  checkNodeConfig,
  methods: {
    'chain-export': {
      scope: 'network',
      description: 'Exports the blocks since the last run, up to the block every validator agrees on, as geth-export RLP files proven against the chain.',
      optionsSchema: chainExportOptionsSchema,
      restoreOptionsSchema,
      restoreTargetSchema,
      checkRestoreTarget: checkChainRestoreTarget,
      backup: chainExport,
      restore: chainRestore,
      verify: chainVerify,
      // Each export file is one entry of the network's history document.
      history: (metadata) => (Array.isArray(metadata.history) ? (metadata.history as JsonObject[]) : null),
    },
  },
});
