'use strict';
/**
 * A test plugin whose nodes are real processes on a machine (local or SSH): each node has a data
 * folder, a pid file and a command that starts it in the background. See ../README.md.
 */
const { join } = require('node:path');
const { definePlugin, machineSchema, PluginError } = require('@chainvault/plugin-sdk');

const ROLE_ORDER = ['ca', 'orderer', 'peer'];

const nodeConfigSchema = {
  type: 'object',
  required: ['dataDir', 'pidFile', 'startCommand'],
  additionalProperties: false,
  properties: {
    machine: machineSchema,
    dataDir: { type: 'string', minLength: 1 },
    pidFile: { type: 'string', minLength: 1 },
    startCommand: { type: 'array', items: { type: 'string' }, minItems: 1 },
    apiKey: { type: 'string', writeOnly: true },
    peers: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { name: { type: 'string' }, token: { type: 'string', writeOnly: true } },
      },
    },
  },
};

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

async function isRunning(machine, config) {
  // A process that has exited but is not reaped yet (a zombie, state Z) does not run.
  const result = await machine.run(['test -s "$1" && pid=$(cat "$1") && kill -0 "$pid" 2>/dev/null && [ "$(cut -d" " -f3 /proc/$pid/stat 2>/dev/null)" != Z ]', config.pidFile], { shell: true, okExitCodes: [0, 1], logged: false });
  return result.exitCode === 0;
}

async function stopNode(ctx, node) {
  const machine = await ctx.machines.get(node.config.machine);
  await machine.run(['pid=$(cat "$1"); kill "$pid"; while kill -0 "$pid" 2>/dev/null && [ "$(cut -d" " -f3 /proc/$pid/stat 2>/dev/null)" != Z ]; do sleep 0.05; done', node.config.pidFile], { shell: true, timeoutMs: 15_000 });
  ctx.log.info(`stopped node ${node.name}`);
}

async function startNode(ctx, node) {
  const machine = await ctx.machines.get(node.config.machine);
  if (await isRunning(machine, node.config)) return false;
  await machine.run(node.config.startCommand, { timeoutMs: 15_000 });
  for (let i = 0; i < 100 && !(await isRunning(machine, node.config)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await isRunning(machine, node.config))) throw new PluginError('COMMAND_FAILED', `node ${node.name} did not start`);
  ctx.log.info(`started node ${node.name}`);
  return true;
}

/** Restore sets in phases by role: CAs, then orderers, then peers, then any other. */
function byRole(targets) {
  const rank = (role) => (ROLE_ORDER.includes(role) ? ROLE_ORDER.indexOf(role) : ROLE_ORDER.length);
  const roles = [...new Set(targets.map((t) => t.node.role))].sort((a, b) => rank(a) - rank(b));
  return roles.map((role) => ({ name: `${role}s`, nodeIds: targets.filter((t) => t.node.role === role).map((t) => t.node.id) }));
}

/** Copies a node's data folder off its machine into its workspace mirror, and stores it under the node's name. */
async function shipNode(ctx, node) {
  const machine = await ctx.machines.get(node.config.machine);
  const mirror = join(await ctx.workspaces.node(node.id), 'mirror');
  const moved = await machine.rsyncFrom(node.config.dataDir, mirror);
  ctx.log.info(`copied node ${node.name}: ${moved.bytesMoved} bytes moved of ${moved.totalBytes}`);
  await ctx.artifacts.addTree(mirror, { as: node.name });
  return moved;
}

/** Writes the stored folder of the matching source node into a target node's data folder. */
async function restoreNode(ctx) {
  const target = ctx.target;
  const sources = ctx.sources;
  const role = target.node ? target.node.role : undefined;
  const source = sources.find((s) => target.node && s.name === target.node.name) || sources.find((s) => s.role === role) || sources[0];
  const staging = join(ctx.tempDir, 'staging');
  await ctx.artifacts.extractTree(staging, { from: source.name });
  const machine = await ctx.machines.get(target.config.machine);
  await machine.rsyncTo(staging, target.config.dataDir);
  const phase = ctx.phase ? ` (phase ${ctx.phase.index} of ${ctx.phase.count}: ${ctx.phase.name})` : '';
  ctx.log.info(`restored ${source.name} into ${target.node ? target.node.name : target.config.dataDir}${phase}`);
  return { details: { from: source.name, phase: ctx.phase ? ctx.phase.name : null } };
}

module.exports = definePlugin({
  id: 'lab',
  protocols: ['lab'],
  description: 'Test plugin: nodes that are real processes.',
  roles: ['ca', 'orderer', 'peer', 'node'],
  nodeConfigSchema,
  dataLocations: (config) => [{ machine: config.machine, path: config.dataDir }],
  methods: {
    offline: {
      scope: 'network',
      disruptive: true,
      exclusive: true,
      description: 'Stops every node, copies its data, and starts them all again.',
      optionsSchema: {
        type: 'object',
        additionalProperties: false,
        properties: { pauseMs: { type: 'integer', minimum: 0, default: 0 } },
      },
      async backup(ctx) {
        const stopped = [];
        // The node's API key passed to a command, as a careless plugin might: the host masks it in the log.
        for (const node of ctx.nodes.filter((n) => n.config.apiKey)) {
          const machine = await ctx.machines.get(node.config.machine);
          await machine.run(['sh', '-c', 'test -n "$1"', 'health-check', node.config.apiKey]);
        }
        try {
          for (const node of ctx.nodes) {
            ctx.signal.throwIfAborted();
            // Saved before the stop: a crash right after it still has the node started again.
            await ctx.state.save({ stopped: [...stopped, node.id] });
            await stopNode(ctx, node);
            stopped.push(node.id);
          }
          let done = 0;
          for (const node of ctx.nodes) {
            await sleep(ctx.options.pauseMs || 0, ctx.signal);
            await shipNode(ctx, node);
            ctx.progress.update({ unit: 'steps', done: ++done, total: ctx.nodes.length, message: `copied ${node.name}` });
          }
          return { metadata: { nodes: ctx.nodes.map((n) => n.name) } };
        } finally {
          // A cancelled run's commands are stopped with it: its cleanup starts the nodes instead.
          if (!ctx.signal.aborted) {
            for (const node of ctx.nodes.filter((n) => stopped.includes(n.id))) await startNode(ctx, node);
            await ctx.state.save({ stopped: [] });
          }
        }
      },
      async cleanup(ctx) {
        const stopped = Array.isArray(ctx.saved.stopped) ? ctx.saved.stopped : [];
        for (const node of ctx.nodes.filter((n) => stopped.includes(n.id))) {
          const started = await startNode(ctx, node);
          if (!started) ctx.log.info(`node ${node.name} was already running`);
        }
      },
      restorePhases: byRole,
      restore: restoreNode,
      async verify(ctx) {
        const entries = await ctx.artifacts.list();
        const problems = ctx.backup.metadata.nodes.filter((name) => !entries.some((e) => e.path === name)).map((name) => `node ${name} is missing from the backup`);
        return { problems, checked: { nodes: ctx.backup.metadata.nodes.length } };
      },
    },
    copy: {
      scope: 'node',
      exclusive: true,
      description: "Copies a running node's data folder (rsync, delta only).",
      optionsSchema: {
        type: 'object',
        additionalProperties: false,
        properties: { pauseMs: { type: 'integer', minimum: 0, default: 0 } },
      },
      async backup(ctx) {
        await sleep(ctx.options.pauseMs || 0, ctx.signal);
        await shipNode(ctx, ctx.node);
        return { metadata: { node: ctx.node.name } };
      },
      restore: restoreNode,
    },
    survey: {
      scope: 'network',
      description: 'Backs up the nodes whose data folder exists; the run is PARTIAL when some are missing.',
      optionsSchema: {
        type: 'object',
        additionalProperties: false,
        properties: { pauseMs: { type: 'integer', minimum: 0, default: 0 } },
      },
      async backup(ctx) {
        await sleep(ctx.options.pauseMs || 0, ctx.signal);
        const outcomes = [];
        for (const node of ctx.nodes) {
          const machine = await ctx.machines.get(node.config.machine);
          if (!(await machine.stat(node.config.dataDir))) {
            outcomes.push({ nodeId: node.id, status: 'failed', reason: `its data folder ${node.config.dataDir} does not exist` });
            continue;
          }
          await shipNode(ctx, node);
          outcomes.push({ nodeId: node.id, status: 'completed' });
        }
        const previous = ctx.previous;
        return {
          metadata: { surveyed: outcomes.filter((o) => o.status === 'completed').length },
          nodes: outcomes,
          // Every backup of the chain so far, so a restore can lay them over each other.
          dependsOn: previous ? [previous.id, ...(previous.dependsOn || [])] : [],
        };
      },
      restorePhases: byRole,
      restore: restoreNode,
    },
  },
});
