#!/usr/bin/env node
// The `defaas` command. Sources are TypeScript; tsx compiles them on load (Node 20 cannot strip types).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv);
