/**
 * Verifying a stored Fabric backup from the data itself: each ledger parsed block by block
 * (numbers, previous-hash links, data hashes), each config block decoded to a channel
 * configuration, each MSP's certificates parsed and chained to their CA, each CouchDB dump read
 * back with the document count it was stored with.
 */
import type { VerifyContext, VerifyReport } from '@chainvault/plugin-sdk';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeConfigBlock } from './config-block';
import { linesOf } from './couchdb';
import { inspectMsp } from './msp';
import { blockStoreOf } from './resource';
import type { FabricMetadata } from './restore';
import { verifyBlockStore } from './verify-ledger';

export async function verifyFabricBackup(ctx: VerifyContext<{ expiryWarningDays?: number }, FabricMetadata>): Promise<VerifyReport> {
  const problems: string[] = [];
  const checked = { resources: 0, channels: 0, blocks: 0, transactions: 0, certificates: 0, expiringCertificates: 0, configBlocks: 0, couchDocuments: 0 };
  const entries = await ctx.artifacts.list();
  for (const resource of ctx.backup.metadata.resources ?? []) {
    checked.resources++;
    const where = (stored: string) => join(ctx.tempDir, 'verify', resource.name, stored);
    for (const part of resource.parts) {
      if (!entries.some((e) => e.path === part.stored || e.path.startsWith(`${part.stored}/`))) {
        problems.push(`${resource.role} ${resource.name}: its ${part.what} (${part.stored}) is missing from the backup`);
        continue;
      }
      const local = where(part.stored);
      if (part.kind === 'tree') {
        await mkdir(local, { recursive: true });
        await ctx.artifacts.extractTree(local, { from: part.stored });
      }
      const store = part.key === 'path' ? blockStoreOf(resource.role, local) : null;
      if (store) {
        try {
          const report = await verifyBlockStore(store);
          for (const channel of report.channels) {
            checked.channels++;
            checked.blocks += channel.blocks;
            checked.transactions += channel.transactions;
            ctx.log.info(`${resource.name}: channel ${channel.channel}: ${channel.blocks} blocks, ${channel.transactions} transactions${channel.ok ? '' : `: ${channel.firstProblem}`}`);
            if (!channel.ok) problems.push(`${resource.role} ${resource.name}: ${channel.firstProblem}`);
          }
        } catch (error) {
          problems.push(`${resource.role} ${resource.name}: ${(error as Error).message.replace(ctx.tempDir, '')}`);
        }
      }
      if (resource.role === 'genesis' && part.key === 'path') {
        try {
          const chunks: Buffer[] = [];
          for await (const chunk of ctx.artifacts.read(part.stored)) chunks.push(Buffer.from(chunk));
          const block = decodeConfigBlock(Buffer.concat(chunks));
          checked.configBlocks++;
          if (!block.dataHashOk) problems.push(`genesis ${resource.name}: the data hash of config block ${block.number} does not match its data`);
        } catch (error) {
          problems.push(`genesis ${resource.name}: ${part.stored} is not a channel configuration block: ${(error as Error).message}`);
        }
      }
      const isMsp = (resource.role === 'msp' && part.key === 'path') || part.key === 'mspDir' || part.key === 'organizationMsp';
      if (isMsp) {
        try {
          const report = await inspectMsp(local, { expiryWarningDays: ctx.options.expiryWarningDays ?? 30, requireSigncerts: part.key !== 'organizationMsp' });
          checked.certificates += report.certificates.length;
          checked.expiringCertificates += report.expiring.length;
          for (const p of report.problems) problems.push(`${resource.role} ${resource.name}: MSP ${part.path}: ${p}`);
          for (const e of report.expiring) ctx.log.warn(`${resource.name}: MSP ${part.path}: ${e.file} (${e.subject}) ${e.expired ? 'expired' : 'expires'} ${e.notAfter} (${e.daysLeft} days)`);
        } catch (error) {
          problems.push(`${resource.role} ${resource.name}: MSP ${part.path}: ${(error as Error).message.replace(local, part.path)}`);
        }
      }
    }
    for (const database of resource.couchdb ?? []) {
      let docs = -1;
      try {
        for await (const line of linesOf(ctx.artifacts.read(database.stored))) if (line.trim()) docs++;
      } catch (error) {
        problems.push(`${resource.name}: CouchDB database ${database.name}: ${(error as Error).message}`);
        continue;
      }
      checked.couchDocuments += Math.max(docs, 0);
      if (docs !== database.docs) problems.push(`${resource.name}: CouchDB database ${database.name} holds ${docs} documents; the backup recorded ${database.docs}`);
    }
  }
  return { problems, checked };
}
