import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkFile, checkTree, importsOf } from './architecture.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('architecture: import directions of ARCHITECTURE.md', () => {
  it('no file imports across the arrows', () => {
    const violations = checkTree(root);
    expect(violations.map((v) => `${v.file} imports ${v.specifier} (${v.target})`)).toEqual([]);
  });

  it('finds static, dynamic, side-effect and type imports', () => {
    const src = `import a from './a.js';\nimport type { B } from "../b.js";\nimport './c.js';\nconst d = await import('./d.js');\nexport { e } from './e.js';`;
    expect(importsOf(src)).toEqual(['./a.js', '../b.js', './c.js', './d.js', './e.js']);
  });

  it('flags an SDK file that imports the executor, and an attestation file that imports the SDK', () => {
    expect(checkFile(root, 'sdk/client.ts', "import { x } from '../enclave-host/server.js';")).toHaveLength(
      1,
    );
    expect(checkFile(root, 'attestation/x.ts', "import type { S } from '../sdk/session.js';")).toHaveLength(
      1,
    );
    expect(checkFile(root, 'sdk/x.ts', "import { Market } from '../contracts/deploy.js';")).toHaveLength(1);
  });

  it('allows the arrows that exist', () => {
    expect(checkFile(root, 'sdk/x.ts', "import { a } from '../attestation/policy.js';")).toEqual([]);
    expect(checkFile(root, 'sdk/x.ts', "import { M } from '../contracts/bindings/market.js';")).toEqual([]);
    expect(checkFile(root, 'enclave-host/x.ts', "import { a } from '../proto/load.js';")).toEqual([]);
    expect(checkFile(root, 'cli/commands/x.ts', "import { a } from '../../enclave-host/server.js';")).toEqual(
      [],
    );
    expect(
      checkFile(root, 'enclave-host/runtime/x.test.ts', "import { b } from '../../examples/build.js';"),
    ).toEqual([]);
    expect(
      checkFile(root, 'enclave-host/runtime/x.ts', "import { b } from '../../examples/build.js';"),
    ).toHaveLength(1);
  });

  it('flags imports that leave the repository', () => {
    expect(checkFile(root, 'attestation/x.ts', "import '../../shared/vectors/x.js';")).toHaveLength(1);
  });
});
