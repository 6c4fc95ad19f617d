#!/usr/bin/env node
import { main } from './main.js';

const code = await main(process.argv.slice(2));
// leave even if a stray handle (a timer, a pty) would keep the loop alive; stdout is flushed by main
process.exit(code);
