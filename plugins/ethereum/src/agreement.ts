// The end block of a run: the monitor's head (less the confirmations), walked back until every validator reports the
// same hash for it, so an exported file only ever holds blocks the whole network agrees on.
import { PluginError, type PluginLogger } from '@chainvault/plugin-sdk';
import { blockHashes } from './block-source';
import type { JsonRpcClient } from './json-rpc';

/** Hashes compared per request while walking back. */
const WINDOW = 32;

export interface AgreementInput {
  monitor: JsonRpcClient;
  validators: JsonRpcClient[];
  /** The highest candidate: the monitor's head less the confirmations. */
  head: number;
  /** The lowest block the end may settle on (the previous run's end); agreement below it is an error. */
  lowest: number;
  maxWalkBack: number;
  /** Validators that must answer; the others may be unreachable. */
  quorum: number;
  log: PluginLogger;
}

export interface AgreedEnd {
  number: number;
  hash: string;
  /** The validators that answered and agreed. */
  agreed: string[];
}

const isUnreachable = (error: unknown) => error instanceof PluginError && (error.code === 'UNREACHABLE' || error.code === 'TIMEOUT');

export async function agreeOnEnd(input: AgreementInput): Promise<AgreedEnd> {
  const { monitor, head, lowest, maxWalkBack, quorum, log } = input;
  let validators = input.validators;
  const floor = Math.max(lowest, head - maxWalkBack);
  for (let top = head; top >= floor; top -= WINDOW) {
    const numbers = Array.from({ length: Math.min(WINDOW, top - floor + 1) }, (_, i) => top - i);
    const expected = await blockHashes(monitor, numbers);
    const answers = await Promise.all(validators.map((v) => blockHashes(v, numbers).catch((error: unknown) => error)));
    const down = validators.filter((_, i) => answers[i] instanceof Error);
    for (const answer of answers) {
      if (answer instanceof Error && !isUnreachable(answer)) throw answer;
    }
    if (validators.length - down.length < quorum) {
      const first = answers.find((a) => a instanceof Error) as Error;
      throw new PluginError(
        'UNREACHABLE',
        `${down.length} of ${validators.length} validators did not answer, and the policy needs ${quorum}: ${first.message}. Set the policy's validatorQuorum to export with fewer.`,
        { retryable: true },
      );
    }
    for (const v of down) log.warn(`validator ${v.endpoint.name} is unreachable; continuing with the validator quorum of ${quorum}`);
    const reachable = validators.filter((_, i) => !(answers[i] instanceof Error));
    const hashes = answers.filter((a): a is (string | null)[] => !(a instanceof Error));
    for (const [i, number] of numbers.entries()) {
      if (expected[i] === null) continue;
      const disagreeing = reachable.filter((_, v) => hashes[v][i] !== expected[i]);
      if (disagreeing.length === 0) {
        if (number < head) log.info(`the validators agree with the monitor up to block ${number}, not on blocks ${number + 1}-${head}; the export ends at ${number}`);
        return { number, hash: expected[i]!, agreed: reachable.map((v) => v.endpoint.name) };
      }
    }
    validators = reachable;
  }
  throw new PluginError(
    'INCONSISTENT',
    `the validators do not agree with the monitor ${monitor.endpoint.name} on any block from ${head} down to ${floor}` +
      (floor > lowest ? ` (the walk back stops after maxWalkBack = ${maxWalkBack} blocks)` : ', the end of the previous backup: the chain may have been reorganised below it'),
    { retryable: floor > lowest },
  );
}
