module.exports = { ...require('../../jest.preset.js'), displayName: 'server-e2e' };
