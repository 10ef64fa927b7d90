/**
 * Where the scheduler, the job worker and retention read the time. Production uses the system
 * clock; tests point CHAINVAULT_CLOCK_FILE at a file they rewrite, so they can cross months,
 * daylight-saving changes and downtime without sleeping.
 */
import { readFileSync } from 'node:fs';

export interface Clock {
  now(): Date;
}

export const CLOCK = Symbol('CLOCK');

export const systemClock: Clock = { now: () => new Date() };

/**
 * Reads the time from a file holding an ISO-8601 instant, so one test can move the clocks of
 * several real server processes together (CHAINVAULT_CLOCK_FILE). A missing or unreadable file
 * is an error, not a silent fall-back to the system clock.
 */
export class FileClock implements Clock {
  constructor(private readonly path: string) {}

  now(): Date {
    const text = readFileSync(this.path, 'utf8').trim();
    const time = new Date(text);
    if (Number.isNaN(time.getTime())) throw new Error(`the clock file ${this.path} holds "${text}", not an ISO-8601 time`);
    return time;
  }
}
