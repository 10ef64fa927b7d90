// @chainvault/plugin-fabric: Hyperledger Fabric support. For now only the verification of
// Fabric data read from the ledger itself (block store, config blocks, MSP folders); the plugin
// methods (definePlugin) come later.
export {
  BlockFileError,
  blockStoreDir,
  deserializeBlock,
  listBlockFiles,
  listChannels,
  readBlockFile,
  readBootstrappingSnapshotInfo,
  readChannelBlocks,
  BOOTSTRAPPING_SNAPSHOT_INFO,
  type BlockFileInfo,
  type BlockFileRecord,
  type BootstrappingSnapshotInfo,
  type FabricBlock,
} from './blockfile';
export { blockDataHash, blockHeaderBytes, blockHeaderHash, derUnsignedInteger, transactionsWellFormedError, type BlockHeaderFields } from './hashes';
export {
  checkBlockHashes,
  DATA_HASH_MISMATCH,
  PREVIOUS_HASH_MISMATCH,
  verifyChannel,
  verifyLedger,
  type ChannelReport,
  type LedgerProblem,
  type LedgerReport,
} from './verify-ledger';
export {
  decodeConfigBlock,
  decodeConfigTransaction,
  decodeEnvelopeHeader,
  effectiveConfig,
  headerTypeName,
  readConfigBlock,
  type ChannelConfigSummary,
  type ConfigBlockSummary,
  type EnvelopeHeader,
  type OrgSummary,
} from './config-block';
export { inspectMsp, MspError, MSP_FOLDERS, type InspectMspOptions, type MspCertificate, type MspChain, type MspExpiry, type MspFolder, type MspReport } from './msp';
