import type { Command } from 'commander';
import { verifyEvidence } from '../../verifier/evidence.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { readText } from '../files.js';
import { action, printResult } from '../output.js';

export function registerEvidence(program: Command): void {
  const evidence = program.command('evidence').description('evidence bundles of witness checks');
  evidence
    .command('verify')
    .description(
      'verify a capacity-challenge evidence bundle offline: re-derive the matrices from the seed, check the enclave signature, the hash or Merkle paths, and prove the product wrong',
    )
    .argument('<bundle>', 'the evidence bundle (JSON) written by `defaas challenge --evidence-out`')
    .option(
      '--json',
      'print one JSON object: result (fraud-proven | rejected), reason, message, executor, row, column, claimed, actual',
    )
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}For this command: 0 the bundle proves fraud; 1 it proves nothing (the reason says why); 2 usage.`,
    )
    .action(action(verify));
}

async function verify(json: boolean, path: string): Promise<ExitCode> {
  const text = await readText(path, '<bundle>');
  const r = verifyEvidence(text);
  if (r.result === 'fraud-proven') {
    printResult(
      json,
      { ...r },
      `fraud proven: executor ${r.executor} committed C[${r.row}][${r.column}] = ${r.claimed}; A·B has ${r.actual}`,
    );
    return EXIT.OK;
  }
  printResult(json, { ...r }, `the bundle proves nothing: ${r.reason}: ${r.message}`);
  return EXIT.VERIFICATION_FAILED;
}
