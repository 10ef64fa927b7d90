// Decoding of Fabric channel configuration: a CONFIG transaction (Envelope → Payload →
// ConfigEnvelope → Config) and standalone config/genesis block files (protobuf common.Block,
// e.g. the output of `configtxgen -outputBlock` or `peer channel fetch config`).
import { readFile } from 'node:fs/promises';
import { common, msp, orderer, peer } from '@hyperledger/fabric-protos';
import { blockDataHash, blockHeaderHash } from './hashes';
import { protoFields, WIRE_LEN, WIRE_VARINT } from './wire';

export interface OrgSummary {
  /** Name of the organisation's config group (e.g. Org1). */
  name: string;
  /** MSP identifier from the group's MSP value (e.g. Org1MSP). */
  mspId?: string;
  mspType?: 'FABRIC' | 'IDEMIX' | `type ${number}`;
  rootCerts: number;
  /** Per-organisation orderer endpoints (Fabric ≥ 1.4.2 "Endpoints" value). */
  endpoints: string[];
  anchorPeers: string[];
}

export interface ChannelConfigSummary {
  /** channel_id of the transaction's channel header. */
  channel: string;
  /** Header type of the transaction: CONFIG, or ORDERER_TRANSACTION for a system-channel block creating a channel. */
  headerType: string;
  txId: string;
  timestamp?: string;
  /** Config sequence (0 for a genesis configuration). */
  sequence?: number;
  /** Names of the channel group's sub-groups (Orderer, Application, Consortiums). */
  groups: string[];
  /** ConsensusType.type of the Orderer group: solo, kafka, etcdraft, BFT. */
  consensusType?: string;
  consensusState?: string;
  /** The channel-level OrdererAddresses value. */
  ordererAddresses: string[];
  /** Union of the orderer organisations' Endpoints values. */
  ordererEndpoints: string[];
  /** host:port of the consenters (etcdraft ConfigMetadata, or the BFT Orderers consenter mapping). */
  consenters: string[];
  kafkaBrokers: string[];
  ordererOrgs: OrgSummary[];
  applicationOrgs: OrgSummary[];
  consortiums: { name: string; orgs: OrgSummary[] }[];
  capabilities: { channel: string[]; orderer: string[]; application: string[] };
  hashingAlgorithm?: string;
  /** For an ORDERER_TRANSACTION: the configuration of the channel it carries. */
  inner?: ChannelConfigSummary;
  /** Parts of the configuration that could not be decoded (the rest of the summary stands). */
  warnings: string[];
}

export interface ConfigBlockSummary {
  number: number;
  headerHash: string;
  previousHash: string;
  dataHash: string;
  dataHashOk: boolean;
  transactions: number;
  metadataEntries: number;
  config: ChannelConfigSummary;
}

const HEADER_TYPE_NAMES = new Map<number, string>(Object.entries(common.HeaderType).map(([name, value]) => [value as number, name]));

export function headerTypeName(type: number): string {
  return HEADER_TYPE_NAMES.get(type) ?? `type ${type}`;
}

export interface EnvelopeHeader {
  type: number;
  typeName: string;
  channel: string;
  txId: string;
  timestamp?: string;
  payloadData: Uint8Array;
}

/** Envelope → Payload → ChannelHeader. Throws when the bytes are not an envelope with a channel header. */
export function decodeEnvelopeHeader(envelopeBytes: Uint8Array): EnvelopeHeader {
  const envelope = common.Envelope.deserializeBinary(envelopeBytes);
  const payload = common.Payload.deserializeBinary(envelope.getPayload_asU8());
  const header = payload.getHeader();
  if (!header) throw new Error('the envelope payload has no header');
  const channelHeader = common.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8());
  const ts = channelHeader.getTimestamp() as { getSeconds(): number; getNanos(): number } | undefined;
  return {
    type: channelHeader.getType(),
    typeName: headerTypeName(channelHeader.getType()),
    channel: channelHeader.getChannelId(),
    txId: channelHeader.getTxId(),
    timestamp: ts ? new Date(ts.getSeconds() * 1000 + Math.floor(ts.getNanos() / 1e6)).toISOString().replace('.000Z', 'Z') : undefined,
    payloadData: payload.getData_asU8(),
  };
}

function configValue(group: common.ConfigGroup | undefined, key: string): Uint8Array | undefined {
  const value: common.ConfigValue | undefined = group?.getValuesMap().get(key);
  return value?.getValue_asU8();
}

function subGroups(group: common.ConfigGroup | undefined): [string, common.ConfigGroup][] {
  if (!group) return [];
  const out: [string, common.ConfigGroup][] = [];
  group.getGroupsMap().forEach((value: common.ConfigGroup, key: string) => out.push([key, value]));
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

function capabilities(group: common.ConfigGroup | undefined): string[] {
  const bytes = configValue(group, 'Capabilities');
  if (!bytes) return [];
  const keys: string[] = [];
  common.Capabilities.deserializeBinary(bytes)
    .getCapabilitiesMap()
    .forEach((_value: common.Capability, key: string) => keys.push(key));
  return keys.sort();
}

/**
 * host:port of etcdraft.ConfigMetadata { repeated Consenter consenters = 1; Options options = 2 },
 * Consenter { string host = 1; uint32 port = 2; … }. Decoded field by field rather than with
 * the generated class: Options changed field types before Fabric 1.4.0 (tick_interval was an
 * integer), and google-protobuf refuses such blocks where Go skips the field.
 */
function etcdraftConsenters(metadata: Uint8Array): string[] {
  const consenters: string[] = [];
  for (const f of protoFields(metadata)) {
    if (f.field !== 1 || f.wireType !== WIRE_LEN) continue;
    let host = '';
    let port = 0n;
    for (const c of protoFields(f.bytes!)) {
      if (c.field === 1 && c.wireType === WIRE_LEN) host = Buffer.from(c.bytes!).toString('utf8');
      else if (c.field === 2 && c.wireType === WIRE_VARINT) port = c.varint!;
    }
    consenters.push(`${host}:${port}`);
  }
  return consenters;
}

function addresses(bytes: Uint8Array | undefined): string[] {
  return bytes ? common.OrdererAddresses.deserializeBinary(bytes).getAddressesList() : [];
}

/** Runs a decoder of an optional part of the configuration; a failure becomes a warning. */
function attempt<T>(warnings: string[], what: string, decode: () => T): T | undefined {
  try {
    return decode();
  } catch (error) {
    warnings.push(`${what} does not decode: ${(error as Error).message}`);
    return undefined;
  }
}

function orgSummary(name: string, group: common.ConfigGroup, warnings: string[]): OrgSummary {
  const org: OrgSummary = { name, rootCerts: 0, endpoints: [], anchorPeers: [] };
  org.endpoints = attempt(warnings, `Endpoints of ${name}`, () => addresses(configValue(group, 'Endpoints'))) ?? [];
  const mspBytes = configValue(group, 'MSP');
  if (mspBytes) {
    attempt(warnings, `MSP of ${name}`, () => {
      const mspConfig = msp.MSPConfig.deserializeBinary(mspBytes);
      const type = mspConfig.getType();
      if (type === 0) {
        const fabric = msp.FabricMSPConfig.deserializeBinary(mspConfig.getConfig_asU8());
        org.mspType = 'FABRIC';
        org.mspId = fabric.getName();
        org.rootCerts = fabric.getRootCertsList().length;
      } else if (type === 1) {
        org.mspType = 'IDEMIX';
        org.mspId = msp.IdemixMSPConfig.deserializeBinary(mspConfig.getConfig_asU8()).getName();
      } else {
        org.mspType = `type ${type}`;
      }
    });
  }
  const anchors = configValue(group, 'AnchorPeers');
  if (anchors) {
    org.anchorPeers =
      attempt(warnings, `AnchorPeers of ${name}`, () =>
        peer.AnchorPeers.deserializeBinary(anchors)
          .getAnchorPeersList()
          .map((a) => `${a.getHost()}:${a.getPort()}`),
      ) ?? [];
  }
  return org;
}

/** Summarises a common.Config (the channel group tree). */
export function summarizeConfig(config: common.Config, header: EnvelopeHeader): ChannelConfigSummary {
  const channelGroup = config.getChannelGroup();
  const groups = new Map(subGroups(channelGroup));
  const ordererGroup = groups.get('Orderer');
  const applicationGroup = groups.get('Application');
  const warnings: string[] = [];
  const summary: ChannelConfigSummary = {
    channel: header.channel,
    headerType: header.typeName,
    txId: header.txId,
    timestamp: header.timestamp,
    sequence: config.getSequence(),
    groups: [...groups.keys()],
    ordererAddresses: attempt(warnings, 'OrdererAddresses', () => addresses(configValue(channelGroup, 'OrdererAddresses'))) ?? [],
    ordererEndpoints: [],
    consenters: [],
    kafkaBrokers: [],
    ordererOrgs: subGroups(ordererGroup).map(([name, g]) => orgSummary(name, g, warnings)),
    applicationOrgs: subGroups(applicationGroup).map(([name, g]) => orgSummary(name, g, warnings)),
    consortiums: subGroups(groups.get('Consortiums')).map(([name, g]) => ({
      name,
      orgs: subGroups(g).map(([orgName, orgGroup]) => orgSummary(orgName, orgGroup, warnings)),
    })),
    capabilities: {
      channel: attempt(warnings, 'channel Capabilities', () => capabilities(channelGroup)) ?? [],
      orderer: attempt(warnings, 'orderer Capabilities', () => capabilities(ordererGroup)) ?? [],
      application: attempt(warnings, 'application Capabilities', () => capabilities(applicationGroup)) ?? [],
    },
    warnings,
  };
  summary.ordererEndpoints = [...new Set(summary.ordererOrgs.flatMap((o) => o.endpoints))];

  const hashing = configValue(channelGroup, 'HashingAlgorithm');
  if (hashing) summary.hashingAlgorithm = attempt(warnings, 'HashingAlgorithm', () => common.HashingAlgorithm.deserializeBinary(hashing).getName());

  const consensus = configValue(ordererGroup, 'ConsensusType');
  const ct = consensus && attempt(warnings, 'ConsensusType', () => orderer.ConsensusType.deserializeBinary(consensus));
  if (ct) {
    summary.consensusType = ct.getType();
    const state = Object.entries(orderer.ConsensusType.State).find(([, v]) => v === ct.getState());
    summary.consensusState = state ? state[0] : String(ct.getState());
    if (ct.getType() === 'etcdraft' && ct.getMetadata_asU8().length > 0) {
      summary.consenters = attempt(warnings, 'etcdraft metadata', () => etcdraftConsenters(ct.getMetadata_asU8())) ?? [];
    }
  }
  const bftOrderers = configValue(ordererGroup, 'Orderers');
  if (bftOrderers) {
    summary.consenters =
      attempt(warnings, 'Orderers', () =>
        common.Orderers.deserializeBinary(bftOrderers)
          .getConsenterMappingList()
          .map((c) => `${c.getHost()}:${c.getPort()}`),
      ) ?? [];
  }
  const kafka = configValue(ordererGroup, 'KafkaBrokers');
  if (kafka) summary.kafkaBrokers = attempt(warnings, 'KafkaBrokers', () => orderer.KafkaBrokers.deserializeBinary(kafka).getBrokersList()) ?? [];
  return summary;
}

/**
 * Decodes a configuration transaction envelope: a CONFIG transaction, or an ORDERER_TRANSACTION
 * (system channel) wrapping the CONFIG transaction of the channel it creates (returned in `inner`).
 */
export function decodeConfigTransaction(envelopeBytes: Uint8Array): ChannelConfigSummary {
  const header = decodeEnvelopeHeader(envelopeBytes);
  if (header.type === common.HeaderType.ORDERER_TRANSACTION) {
    const inner = decodeConfigTransaction(header.payloadData);
    return {
      channel: header.channel,
      headerType: header.typeName,
      txId: header.txId,
      timestamp: header.timestamp,
      groups: [],
      ordererAddresses: [],
      ordererEndpoints: [],
      consenters: [],
      kafkaBrokers: [],
      ordererOrgs: [],
      applicationOrgs: [],
      consortiums: [],
      capabilities: { channel: [], orderer: [], application: [] },
      inner,
      warnings: [],
    };
  }
  if (header.type !== common.HeaderType.CONFIG) {
    throw new Error(`not a configuration transaction: the channel header type is ${header.typeName}`);
  }
  const configEnvelope = common.ConfigEnvelope.deserializeBinary(header.payloadData);
  const config = configEnvelope.getConfig();
  if (!config) throw new Error('the ConfigEnvelope carries no Config');
  const channelGroup = config.getChannelGroup();
  if (!channelGroup || channelGroup.getGroupsMap().getLength() === 0) throw new Error('the Config has no channel groups');
  return summarizeConfig(config, header);
}

/** The configuration that actually describes a channel: the wrapped one for a system-channel ORDERER_TRANSACTION. */
export function effectiveConfig(summary: ChannelConfigSummary): ChannelConfigSummary {
  return summary.inner ? effectiveConfig(summary.inner) : summary;
}

/** Decodes a protobuf common.Block holding a configuration transaction. */
export function decodeConfigBlock(bytes: Uint8Array): ConfigBlockSummary {
  const block = common.Block.deserializeBinary(bytes);
  const header = block.getHeader();
  if (!header) throw new Error('the block has no header');
  const data = block.getData()?.getDataList_asU8() ?? [];
  if (data.length !== 1) throw new Error(`a configuration block holds exactly one transaction, this one holds ${data.length}`);
  const fields = { number: header.getNumber(), previousHash: header.getPreviousHash_asU8(), dataHash: header.getDataHash_asU8() };
  return {
    number: fields.number,
    headerHash: blockHeaderHash(fields).toString('hex'),
    previousHash: Buffer.from(fields.previousHash).toString('hex'),
    dataHash: Buffer.from(fields.dataHash).toString('hex'),
    dataHashOk: blockDataHash(data).equals(fields.dataHash),
    transactions: data.length,
    metadataEntries: block.getMetadata()?.getMetadataList().length ?? 0,
    config: decodeConfigTransaction(data[0]),
  };
}

export async function readConfigBlock(path: string): Promise<ConfigBlockSummary> {
  return decodeConfigBlock(await readFile(path));
}
