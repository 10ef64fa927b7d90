'use strict';
/** A second plugin whose exclusive method reads a folder on a machine: exclusion across plugins. */
const { definePlugin, machineSchema } = require('@chainvault/plugin-sdk');

module.exports = definePlugin({
  id: 'mirror',
  protocols: ['mirror'],
  nodeConfigSchema: {
    type: 'object',
    required: ['directory'],
    additionalProperties: false,
    properties: { machine: machineSchema, directory: { type: 'string', minLength: 1 } },
  },
  dataLocations: (config) => [{ machine: config.machine, path: config.directory }],
  methods: {
    mirror: {
      scope: 'node',
      exclusive: true,
      description: 'Copies the folder off its machine and stores it.',
      async backup(ctx) {
        const machine = await ctx.machines.get(ctx.node.config.machine);
        const mirror = await ctx.workspaces.node(ctx.node.id);
        await machine.rsyncFrom(ctx.node.config.directory, mirror);
        await ctx.artifacts.addTree(mirror);
        return { metadata: {} };
      },
      async restore(ctx) {
        await ctx.artifacts.extractTree(ctx.target.config.directory);
      },
    },
  },
});
