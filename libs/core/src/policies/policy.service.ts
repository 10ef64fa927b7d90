/** Backup policies: what to back up, with which method, when, where to, and how long to keep it. */
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import { machineIdentity, type DataLocation, type JsonObject } from '@chainvault/plugin-sdk';
import { In, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { JobEntity, JobStatus, PolicyEntity, SchedulePreset, type NodeEntity, type PolicySchedule, type RetentionRules, type WebhookSpec } from '../catalog/entities';
import { uniqueViolation } from '../catalog/unique-violation';
import { DestinationService } from '../destinations/destination.service';
import { ChainvaultError } from '../errors/chainvault.errors';
import { NetworkService } from '../networks/network.service';
import { NodeService } from '../nodes/node.service';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { requireName, requireObject } from '../validation';
import { CLOCK, type Clock } from '../scheduler/clock';
import { checkMaintenanceWindows } from './maintenance-window';
import { retiredName } from '../catalog/retired-name';
import { checkCron, nextFireTimes } from './schedule';

export interface CreatePolicy {
  name: string;
  nodeId?: string | null;
  networkId?: string | null;
  method: string;
  options?: unknown;
  schedule?: { preset?: SchedulePreset | null; cron?: string | null; timeZone?: string | null; jitterSeconds?: number | null; outsideWindow?: string | null } | null;
  destinationIds: string[];
  retention?: RetentionRules | null;
  enabled?: boolean | null;
  /** When its jobs may start, in the schedule's time zone. */
  maintenanceWindows?: unknown;
  webhook?: { url: string; on?: ('FAILURE' | 'SUCCESS')[] | null } | null;
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface CronField {
  name: string;
  min: number;
  max: number;
  /** The number a name stands for (JAN, MON), if the field takes names. */
  value?: (name: string) => number | undefined;
}

/** The fields of a cron expression and their allowed values; a six-field expression starts with seconds. */
const CRON_FIELDS: CronField[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, value: (name: string) => MONTH_NAMES.indexOf(name) + 1 || undefined },
  { name: 'day of week', min: 0, max: 7, value: (name: string) => (WEEKDAY_NAMES.includes(name) ? WEEKDAY_NAMES.indexOf(name) : undefined) },
];
const CRON_PART = /^(?:\*|\?|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:\/([0-9]+))?$/;

/** Why one field of a cron expression is wrong, or null: a value out of range would never fire. */
function cronFieldProblem(text: string, field: CronField): string | null {
  for (const part of text.split(',')) {
    const match = CRON_PART.exec(part);
    if (!match) return `${field.name} "${part}" is not a value, range or step`;
    const [, from, to, step] = match;
    if (step !== undefined && Number(step) < 1) return `${field.name} step "/${step}" must be 1 or more`;
    const value = (v: string) => (/^[0-9]+$/.test(v) ? Number(v) : field.value?.(v.toUpperCase()));
    for (const v of [from, to]) {
      if (v === undefined) continue;
      const n = value(v);
      if (n === undefined || n < field.min || n > field.max) return `${field.name} "${v}" is not in ${field.min}-${field.max}${field.value ? ' or a name' : ''}`;
    }
    if (to !== undefined && value(from)! > value(to)!) return `${field.name} range "${from}-${to}" runs backwards`;
  }
  return null;
}

interface DataPlace {
  node: NodeEntity;
  machine: string;
  /** Normalised, ending with `/`. */
  path: string;
}

/** Two places hold the same data when they are on one machine and one path is the other or lies inside it. */
function sameData(a: DataPlace, b: DataPlace): boolean {
  return a.machine === b.machine && (a.path.startsWith(b.path) || b.path.startsWith(a.path));
}

export interface UpdatePolicy {
  name?: string | null;
  options?: unknown;
  /** Left out: kept. null: removed (the policy then runs only when asked). */
  schedule?: CreatePolicy['schedule'];
  maintenanceWindows?: unknown;
  retention?: RetentionRules | null;
  destinationIds?: string[] | null;
  enabled?: boolean | null;
  /** Left out: kept. null: removed. */
  webhook?: CreatePolicy['webhook'];
}

const DURATION = /^[1-9][0-9]*[hdwmy]$/;
const COUNT_RULES = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const;

@Injectable()
export class PolicyService {
  constructor(
    @InjectRepository(PolicyEntity) private readonly policies: Repository<PolicyEntity>,
    @InjectRepository(JobEntity) private readonly jobs: Repository<JobEntity>,
    private readonly networks: NetworkService,
    private readonly nodes: NodeService,
    private readonly destinations: DestinationService,
    private readonly plugins: PluginRegistry,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  list(): Promise<PolicyEntity[]> {
    return this.policies.find({ order: { name: 'ASC' } });
  }

  /** A policy, deleted or not (its backups are still verified with its options), or null when there is none with this id. */
  find(id: string): Promise<PolicyEntity | null> {
    return this.policies.findOne({ where: { id }, withDeleted: true });
  }

  async get(id: string): Promise<PolicyEntity> {
    const policy = await this.policies.findOneBy({ id });
    if (!policy) throw ChainvaultError.notFound('policy', id);
    return policy;
  }

  async create(input: CreatePolicy, actor: string): Promise<PolicyEntity> {
    const name = requireName(input.name, 'name');
    if (Boolean(input.nodeId) === Boolean(input.networkId)) throw ChainvaultError.badInput('give either nodeId (one node) or networkId (a whole network), not both or neither');

    let node: NodeEntity | null = null;
    let networkId: string;
    let pluginId: string;
    if (input.nodeId) {
      node = await this.nodes.get(input.nodeId);
      networkId = node.networkId;
      pluginId = node.pluginId;
    } else {
      const network = await this.networks.get(input.networkId!);
      const members = await this.nodes.list(network.id);
      if (members.length === 0) throw ChainvaultError.badInput(`network "${network.name}" has no nodes yet; register its nodes first`);
      const pluginIds = [...new Set(members.map((n) => n.pluginId))];
      if (pluginIds.length > 1) throw ChainvaultError.badInput(`network "${network.name}" mixes plugins (${pluginIds.join(', ')}); a network policy needs one`);
      networkId = network.id;
      pluginId = pluginIds[0];
    }
    const method = this.plugins.method(pluginId, input.method);
    if (node && method.scope === 'network') throw ChainvaultError.badInput(`method "${input.method}" backs up a whole network: give networkId instead of nodeId`);
    if (!node && method.scope === 'node') throw ChainvaultError.badInput(`method "${input.method}" backs up one node: give nodeId instead of networkId`);
    const options = structuredClone(requireObject(input.options ?? {}, 'options'));
    this.plugins.checkOptions(pluginId, input.method, options);

    const schedule = this.checkSchedule(input.schedule ?? null);
    const retention = this.checkRetention(input.retention ?? {});
    const maintenanceWindows = this.checkWindows(input.maintenanceWindows ?? []);
    if (maintenanceWindows.length > 0 && !schedule) throw ChainvaultError.badInput('maintenanceWindows need a schedule: its time zone says when the windows are');
    const webhook = this.checkWebhook(input.webhook ?? null);
    const destinationIds = await this.checkDestinations(input.destinationIds);
    const enabled = input.enabled ?? true;
    const taken = () => ChainvaultError.conflict(`a policy named "${name}" already exists`);
    if (await this.policies.existsBy({ name })) throw taken();
    if (enabled) await this.refuseExclusiveConflict({ id: null, name, nodeId: node?.id ?? null, networkId, pluginId, method: input.method });

    const policy = this.policies.create({
      id: randomUUID(),
      name,
      networkId,
      nodeId: node?.id ?? null,
      pluginId,
      method: input.method,
      options,
      schedule,
      destinationIds,
      retention,
      enabled,
      createdAt: this.clock.now(),
      scheduleFrom: null,
      maintenanceWindows: maintenanceWindows.length ? maintenanceWindows : null,
      webhook,
    });
    try {
      await this.policies.insert(policy);
    } catch (error) {
      // A create of the same name that passed the check at the same time, here or in another instance.
      if (uniqueViolation(error)) throw taken();
      throw error;
    }
    await this.audit.record({ actor, action: 'policy.create', subjectType: 'policy', subjectId: policy.id, details: { name, method: input.method, pluginId } });
    return policy;
  }

  /**
   * Changes what a policy does from its next run on: name, options (checked by the plugin),
   * schedule (a new one counts from now: fires it would have had before are not caught up),
   * maintenance windows, retention rules, destinations, enabled, webhook. Its node or network
   * and method stay: they are what its backups are backups of.
   */
  async update(id: string, input: UpdatePolicy, actor: string): Promise<{ policy: PolicyEntity; addedDestinationIds: string[] }> {
    const policy = await this.get(id);
    const changes: Partial<PolicyEntity> = {};
    const given = (value: unknown) => value !== undefined;
    if (given(input.name) && input.name !== null) changes.name = requireName(input.name, 'name');
    if (given(input.options) && input.options !== null) {
      const options = structuredClone(requireObject(input.options, 'options'));
      this.plugins.checkOptions(policy.pluginId, policy.method, options);
      changes.options = options;
    }
    if (given(input.schedule)) {
      changes.schedule = this.checkSchedule(input.schedule ?? null);
      changes.scheduleFrom = this.clock.now();
    }
    if (given(input.maintenanceWindows) && input.maintenanceWindows !== null) {
      const windows = this.checkWindows(input.maintenanceWindows);
      changes.maintenanceWindows = windows.length ? windows : null;
    }
    const schedule = given(input.schedule) ? changes.schedule : policy.schedule;
    const windows = changes.maintenanceWindows !== undefined ? changes.maintenanceWindows : policy.maintenanceWindows;
    if (windows?.length && !schedule) throw ChainvaultError.badInput('maintenanceWindows need a schedule: its time zone says when the windows are; remove the windows too, or keep a schedule');
    if (given(input.retention) && input.retention !== null) changes.retention = this.checkRetention(input.retention);
    if (given(input.destinationIds) && input.destinationIds !== null) changes.destinationIds = await this.checkDestinations(input.destinationIds);
    if (given(input.webhook)) changes.webhook = this.checkWebhook(input.webhook ?? null);
    if (given(input.enabled) && input.enabled !== null && input.enabled !== policy.enabled) {
      changes.enabled = input.enabled;
      if (input.enabled) {
        await this.refuseExclusiveConflict(policy);
        changes.scheduleFrom = this.clock.now();
      }
    }
    if (Object.keys(changes).length === 0) throw ChainvaultError.badInput('give at least one of name, options, schedule, maintenanceWindows, retention, destinationIds, enabled, webhook to change');
    const taken = () => ChainvaultError.conflict(`a policy named "${changes.name}" already exists`);
    if (changes.name && changes.name !== policy.name && (await this.policies.existsBy({ name: changes.name }))) throw taken();
    try {
      await this.policies.update({ id }, changes);
    } catch (error) {
      if (uniqueViolation(error)) throw taken();
      throw error;
    }
    const addedDestinationIds = (changes.destinationIds ?? []).filter((d) => !policy.destinationIds.includes(d));
    await this.audit.record({
      actor,
      action: 'policy.update',
      subjectType: 'policy',
      subjectId: id,
      details: { changed: Object.keys(changes).filter((k) => k !== 'scheduleFrom'), ...(changes.name ? { name: changes.name, previousName: policy.name } : {}) },
    });
    return { policy: await this.get(id), addedDestinationIds };
  }

  /**
   * Refuses to delete a policy while one of its jobs is queued or running (each named, to wait
   * for or cancel), so no job is left without its policy.
   */
  async checkDeletable(id: string): Promise<PolicyEntity> {
    const policy = await this.get(id);
    const active = await this.jobs.find({ where: { policyId: id, status: In([JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING]) }, order: { createdAt: 'ASC' } });
    if (active.length) {
      throw ChainvaultError.conflict(`policy "${policy.name}" has ${active.length} job(s) queued or running (${active.map((j) => `${j.kind} ${j.id}`).join(', ')}); wait for them or cancel them, then delete the policy`);
    }
    return policy;
  }

  /**
   * Deletes a policy: it no longer runs, and its name is free. Its backups stay listed and
   * restorable under its id, their retention now manual (deleteBackup, pins), unless the caller
   * deleted them first. The row stays, retired, for those backups.
   */
  async delete(id: string, actor: string, details: Record<string, unknown> = {}): Promise<PolicyEntity> {
    const policy = await this.checkDeletable(id);
    const now = this.clock.now();
    await this.policies.update({ id }, { deletedAt: now, enabled: false, name: retiredName(policy.name, now) });
    await this.audit.record({ actor, action: 'policy.delete', subjectType: 'policy', subjectId: id, details: { name: policy.name, ...details } });
    return policy;
  }

  /**
   * Adds a further destination to a policy. Every earlier backup of the policy is then copied
   * there (back-fill) by the caller's replication jobs.
   */
  async addDestination(policyId: string, destinationId: string, actor: string): Promise<PolicyEntity> {
    const policy = await this.get(policyId);
    await this.destinations.get(destinationId);
    if (policy.destinationIds.includes(destinationId)) throw ChainvaultError.conflict(`policy "${policy.name}" already writes to destination ${destinationId}`);
    policy.destinationIds = [...policy.destinationIds, destinationId];
    await this.policies.update({ id: policy.id }, { destinationIds: policy.destinationIds });
    await this.audit.record({ actor, action: 'policy.add-destination', subjectType: 'policy', subjectId: policy.id, details: { destinationId } });
    return policy;
  }

  /** Stops the schedule; runs asked for by hand still work. */
  async pause(id: string, actor: string): Promise<PolicyEntity> {
    const policy = await this.get(id);
    if (!policy.enabled) throw ChainvaultError.conflict(`policy "${policy.name}" is already paused`);
    await this.policies.update({ id }, { enabled: false });
    await this.audit.record({ actor, action: 'policy.pause', subjectType: 'policy', subjectId: id });
    return this.get(id);
  }

  /**
   * Starts the schedule again from now: fires while it was paused are not caught up. Refused
   * while another enabled policy's method excludes this one on the same node.
   */
  async resume(id: string, actor: string): Promise<PolicyEntity> {
    const policy = await this.get(id);
    if (policy.enabled) throw ChainvaultError.conflict(`policy "${policy.name}" is not paused`);
    await this.refuseExclusiveConflict(policy);
    await this.policies.update({ id }, { enabled: true, scheduleFrom: this.clock.now() });
    await this.audit.record({ actor, action: 'policy.resume', subjectType: 'policy', subjectId: id });
    return this.get(id);
  }

  private checkWindows(windows: unknown) {
    try {
      return checkMaintenanceWindows(windows ?? []);
    } catch (error) {
      throw ChainvaultError.badInput((error as Error).message);
    }
  }

  private checkWebhook(webhook: CreatePolicy['webhook']): WebhookSpec | null {
    if (!webhook) return null;
    let url: URL;
    try {
      url = new URL(webhook.url);
    } catch {
      throw ChainvaultError.badInput(`webhook.url: "${webhook.url}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw ChainvaultError.badInput(`webhook.url must use http or https, got ${url.protocol}`);
    const on = webhook.on ?? ['FAILURE', 'SUCCESS'];
    if (on.length === 0 || on.some((e) => e !== 'FAILURE' && e !== 'SUCCESS')) throw ChainvaultError.badInput('webhook.on lists FAILURE, SUCCESS or both');
    return { url: url.toString(), on: [...new Set(on)] };
  }

  /**
   * Refuses a policy that may not be enabled beside another enabled one: a method of the same
   * plugin that `excludes` it on the same node, or two exclusive methods (of any plugins) whose
   * nodes hold the same data (same machine and data directory, by each plugin's dataLocations).
   */
  private async refuseExclusiveConflict(policy: Pick<PolicyEntity, 'name' | 'nodeId' | 'networkId' | 'pluginId' | 'method'> & { id: string | null }): Promise<void> {
    const method = this.plugins.method(policy.pluginId, policy.method);
    const excludes = new Set(method.excludes ?? []);
    const mine = await this.policyNodes(policy);
    const myData = method.exclusive ? await this.dataOf(mine) : [];
    for (const other of await this.policies.findBy({ enabled: true })) {
      if (other.id === policy.id) continue;
      const theirs = await this.policyNodes(other);
      const shared = mine.find((n) => theirs.some((t) => t.id === n.id));
      const otherMethod = this.plugins.find(other.pluginId)?.plugin.methods[other.method];
      if (!otherMethod) continue;
      if (shared && other.pluginId === policy.pluginId && (excludes.has(other.method) || (otherMethod.excludes ?? []).includes(policy.method))) {
        throw ChainvaultError.conflict(`method "${policy.method}" cannot run on node "${shared.name}" while policy "${other.name}" (method "${other.method}") is enabled`, {
          policyId: other.id,
        });
      }
      if (!method.exclusive || !otherMethod.exclusive) continue;
      const theirData = await this.dataOf(theirs);
      for (const a of myData) {
        const b = theirData.find((d) => sameData(a, d));
        if (!b) continue;
        const where = a.machine === 'local' ? a.path : `${a.path} on ${a.machine}`;
        const nodes = a.node.id === b.node.id ? `node "${a.node.name}"` : `node "${a.node.name}" (plugin ${a.node.pluginId}) and node "${b.node.name}" (plugin ${b.node.pluginId}), which share ${where},`;
        throw ChainvaultError.conflict(
          `policy "${policy.name}" (${policy.pluginId}/${policy.method}) cannot be enabled: ${nodes} ${a.node.id === b.node.id ? 'is' : 'are'} already backed up by policy "${other.name}" (${other.pluginId}/${other.method}), and both methods need the data to themselves; pause or remove that policy first`,
          { policyId: other.id },
        );
      }
    }
  }

  /** The nodes a policy backs up: its node, or every node of its network. */
  private async policyNodes(policy: Pick<PolicyEntity, 'nodeId' | 'networkId'>): Promise<NodeEntity[]> {
    if (policy.nodeId) return [await this.nodes.get(policy.nodeId)];
    return this.nodes.list(policy.networkId);
  }

  /** Where each node keeps its data, by its plugin's dataLocations (default: the node itself). */
  private async dataOf(nodes: NodeEntity[]): Promise<DataPlace[]> {
    const places: DataPlace[] = [];
    for (const node of nodes) {
      const plugin = this.plugins.find(node.pluginId)?.plugin;
      let locations: DataLocation[] | undefined;
      try {
        // Awaited: an isolated plugin answers from its own process.
        locations = await plugin?.dataLocations?.(this.nodes.handle(node).config as JsonObject);
      } catch {
        locations = undefined;
      }
      if (!locations?.length) {
        places.push({ node, machine: `node:${node.id}`, path: '/' });
        continue;
      }
      for (const location of locations) places.push({ node, machine: machineIdentity(location.machine), path: posix.normalize(`${location.path}/`) });
    }
    return places;
  }

  /**
   * The next `count` fires of a schedule not saved yet, checked as createPolicy checks it, so a
   * form can show them (across a daylight-saving change, too) before the policy exists.
   */
  previewSchedule(schedule: NonNullable<CreatePolicy['schedule']>, count: number): Date[] {
    if (!Number.isInteger(count) || count < 1 || count > 50) throw ChainvaultError.badInput(`count must be between 1 and 50, got ${count}`);
    const checked = this.checkSchedule(schedule)!;
    return nextFireTimes(checked, this.clock.now(), count);
  }

  private checkSchedule(schedule: CreatePolicy['schedule']): PolicySchedule | null {
    if (!schedule) return null;
    const timeZone = schedule.timeZone ?? 'UTC';
    try {
      new Intl.DateTimeFormat('en', { timeZone });
    } catch {
      throw ChainvaultError.badInput(`schedule.timeZone: "${timeZone}" is not an IANA time zone (for example Europe/Berlin)`);
    }
    if (Boolean(schedule.preset) === Boolean(schedule.cron)) throw ChainvaultError.badInput('schedule: give either preset or cron');
    const jitter = schedule.jitterSeconds ?? undefined;
    if (jitter !== undefined && (!Number.isInteger(jitter) || jitter < 0 || jitter > 86_400)) {
      throw ChainvaultError.badInput(`schedule.jitterSeconds must be a whole number of seconds from 0 to 86400, got ${jitter}`);
    }
    const outside = schedule.outsideWindow ?? undefined;
    if (outside !== undefined && outside !== 'WAIT' && outside !== 'SKIP') throw ChainvaultError.badInput(`schedule.outsideWindow must be WAIT or SKIP, got "${String(outside)}"`);
    const extra = { ...(jitter ? { jitterSeconds: jitter } : {}), ...(outside ? { outsideWindow: outside as 'WAIT' | 'SKIP' } : {}) };
    if (schedule.preset) {
      if (!Object.values(SchedulePreset).includes(schedule.preset)) throw ChainvaultError.badInput(`schedule.preset: unknown preset "${schedule.preset}"`);
      return { preset: schedule.preset, timeZone, ...extra };
    }
    const fields = schedule.cron!.trim().split(/\s+/);
    if (fields.length < 5 || fields.length > 6) {
      throw ChainvaultError.badInput(`schedule.cron: "${schedule.cron}" is not a cron expression (five or six fields, such as "0 */6 * * *")`);
    }
    const kinds = CRON_FIELDS.slice(6 - fields.length);
    const problem = fields.map((f, i) => cronFieldProblem(f, kinds[i])).find((p) => p !== null);
    if (problem) throw ChainvaultError.badInput(`schedule.cron: "${schedule.cron}" is not a cron expression: ${problem}`);
    const cron = fields.join(' ');
    try {
      // The evaluator that fires it must accept it too (and it must fire at all: "0 0 31 2 *" never does).
      checkCron(cron, timeZone);
    } catch (error) {
      throw ChainvaultError.badInput(`schedule.cron: "${schedule.cron}" cannot be scheduled: ${(error as Error).message}`);
    }
    return { cron, timeZone, ...extra };
  }

  private checkRetention(rules: RetentionRules): RetentionRules {
    const checked: RetentionRules = {};
    for (const key of COUNT_RULES) {
      const value = rules[key];
      if (value === undefined || value === null) continue;
      if (!Number.isInteger(value) || value < 0) throw ChainvaultError.badInput(`retention.${key} must be a whole number of 0 or more, got ${value}`);
      checked[key] = value;
    }
    if (rules.keepWithin !== undefined && rules.keepWithin !== null) {
      if (!DURATION.test(rules.keepWithin)) throw ChainvaultError.badInput(`retention.keepWithin must be a duration such as 12h, 30d, 8w, 6m or 1y; got "${rules.keepWithin}"`);
      checked.keepWithin = rules.keepWithin;
    }
    return checked;
  }

  private async checkDestinations(ids: string[]): Promise<string[]> {
    if (!Array.isArray(ids) || ids.length === 0) throw ChainvaultError.badInput('destinationIds: give at least one destination');
    if (new Set(ids).size !== ids.length) throw ChainvaultError.badInput('destinationIds: a destination is listed twice');
    for (const id of ids) await this.destinations.get(id);
    return ids;
  }
}
