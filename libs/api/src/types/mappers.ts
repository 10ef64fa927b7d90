/** From catalog rows to API objects: the one place that decides what leaves the server. */
import { dependencyIds } from '@chainvault/core';
import type { ApiTokenEntity, AuditEventEntity, BackupEntity, DestinationEntity, JobEntity, NetworkEntity, NodeEntity, PluginRecord, PolicyEntity, RetentionReport } from '@chainvault/core';
import type { ApiToken, AuditEvent, Backup, Destination, Job, Network, Node, Plugin, Policy, RetentionResult } from './objects';

export function toPlugin(record: PluginRecord): Plugin {
  return {
    id: record.id,
    packageName: record.packageName,
    version: record.version,
    apiVersion: record.apiVersion,
    protocols: record.protocols,
    roles: record.roles,
    methods: record.methods.map((m) => ({ ...m, restoreTargetSchema: m.restoreTargetSchema ?? record.nodeConfigSchema })),
    status: record.status,
    error: record.error,
    source: record.source,
    nodeConfigSchema: record.nodeConfigSchema,
    integrity: record.integrity ?? null,
    lastFault: record.lastFault ? { ...record.lastFault } : null,
  };
}

export function toNetwork(n: NetworkEntity): Network {
  return { id: n.id, name: n.name, protocol: n.protocol, labels: n.labels, createdAt: n.createdAt };
}

/** Secret values are never part of the object: only the names of the secret fields that are set. */
export function toNode(n: NodeEntity, secretFields: string[], seesPaths = true): Node {
  return { id: n.id, networkId: n.networkId, name: n.name, plugin: n.pluginId, role: n.role, config: seesPaths ? n.config : {}, secretFields, createdAt: n.createdAt };
}

export function toDestination(d: DestinationEntity, secretFields: string[], seesPaths = true): Destination {
  return { id: d.id, name: d.name, kind: d.kind, config: seesPaths ? d.config : {}, secretFields, createdAt: d.createdAt };
}

export function toPolicy(p: PolicyEntity): Policy {
  return {
    id: p.id,
    name: p.name,
    networkId: p.networkId,
    nodeId: p.nodeId,
    plugin: p.pluginId,
    method: p.method,
    options: p.options,
    schedule: p.schedule,
    destinationIds: p.destinationIds,
    retention: p.retention,
    enabled: p.enabled,
    maintenanceWindows: p.maintenanceWindows ?? [],
    webhook: p.webhook ? { url: p.webhook.url, on: p.webhook.on ?? ['FAILURE', 'SUCCESS'] } : null,
    createdAt: p.createdAt,
  };
}

export function toBackup(b: BackupEntity): Backup {
  return {
    id: b.id,
    policyId: b.policyId,
    networkId: b.networkId,
    nodeId: b.nodeId,
    plugin: b.pluginId,
    method: b.method,
    status: b.status,
    destinationId: b.destinationId,
    jobId: b.jobId,
    startedAt: b.startedAt,
    createdAt: b.createdAt,
    logicalSize: b.logicalBytes,
    storedSize: b.storedBytes,
    bytesRead: b.bytesRead,
    fileCount: b.fileCount,
    filesRead: b.filesRead,
    filesUnchanged: b.filesUnchanged,
    metadata: b.metadata,
    dependsOnId: b.dependsOnId,
    dependsOn: dependencyIds(b),
    report: b.report ?? null,
    verification: b.verification,
    verifiedAt: b.verifiedAt,
    verificationProblems: b.verificationProblems,
    pinned: b.pinned,
    firstBlock: b.firstBlock ?? null,
    lastBlock: b.lastBlock ?? null,
  };
}

export function toRetentionResult(r: RetentionReport): RetentionResult {
  const decision = (d: RetentionReport['decisions'][number]) => ({ backupId: d.backupId, createdAt: d.createdAt, reasons: d.reasons, ...(d.error ? { error: d.error } : {}) });
  const goes = (d: RetentionReport['decisions'][number]) => !d.keep && (r.dryRun || r.deleted.includes(d.backupId));
  return {
    policyId: r.policyId,
    dryRun: r.dryRun,
    evaluatedAt: r.evaluatedAt,
    kept: r.decisions.filter((d) => !goes(d)).map((d) => (d.keep ? decision(d) : { ...decision(d), reasons: d.error ? [`kept for now: ${d.error}`] : d.reasons })),
    deleted: r.decisions.filter(goes).map(decision),
    pruneJobIds: r.pruneJobIds,
  };
}

/** A job; its log is a field of its own (JobResolver.log), read from the catalog's job_log. */
export function toJob(j: JobEntity): Job {
  return {
    id: j.id,
    kind: j.kind,
    status: j.status,
    policyId: j.policyId,
    backupId: j.backupId,
    restoreId: j.restoreId,
    progress: j.progress ? { ...j.progress } : null,
    error: j.error,
    result: j.result,
    attempts: j.attempts,
    createdAt: j.createdAt,
    scheduledFor: j.scheduledFor,
    notBefore: j.notBefore,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
  };
}

/** A token as the API shows it: never its secret, nor its hash. */
export function toApiToken(t: ApiTokenEntity): ApiToken {
  return { id: t.id, name: t.name, role: t.role, createdAt: t.createdAt, createdBy: t.createdBy, expiresAt: t.expiresAt, revokedAt: t.revokedAt, lastUsedAt: t.lastUsedAt };
}

export function toAuditEvent(e: AuditEventEntity): AuditEvent {
  return { id: e.id, at: e.at, actor: e.actor, action: e.action, subjectType: e.subjectType, subjectId: e.subjectId, outcome: e.outcome, remoteAddress: e.remoteAddress, details: e.details };
}
