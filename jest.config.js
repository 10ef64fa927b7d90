// Every project with a jest.config.js takes part in `npm test`.
const { existsSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

const projects = ['apps', 'libs', 'plugins', 'tools'].flatMap((group) =>
  existsSync(join(__dirname, group))
    ? readdirSync(join(__dirname, group))
        .filter((name) => existsSync(join(__dirname, group, name, 'jest.config.js')))
        .map((name) => `<rootDir>/${group}/${name}`)
    : [],
);

// End-to-end tests start real servers and move hundreds of MiB; unit tests stay far below this.
module.exports = { projects, testTimeout: 180_000, reporters: ['default', '<rootDir>/tools/jest/summary-reporter.js'] };
