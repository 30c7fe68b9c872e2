#!/usr/bin/env node
'use strict';
// The bundled CLI (npm run build:ts) does the work.
const { main } = require('../dist/cli.js');
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
