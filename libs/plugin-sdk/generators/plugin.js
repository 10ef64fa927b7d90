// Nx loads generators of a workspace project as TypeScript sources unless given plain JavaScript:
// this points it at the built generator (libs/plugin-sdk is built by `npm run build`).
'use strict';
module.exports = require('../dist/generators/plugin/generator');
